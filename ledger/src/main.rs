//! `ledger`: the origin ledger service. `ledger serve` with no configuration runs on an
//! embedded SQLite file; `--database-url postgres://…` runs on PostgreSQL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use ledger::db::{self, Sync};
use ledger::{Settings, State};
use promoseal_evaluator::codes::CodeSecret;
use promoseal_evaluator::seal::TrustRoot;

/// mimalloc: measured under the hot-promotion load, glibc's allocator (its `malloc`, `free`,
/// consolidation and chunk unlinking) took about a fifth of the ledger's CPU across tokio's
/// worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ledger", version, about = "Promoseal origin ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the /v1 API.
    Serve(Box<Serve>),
    /// Create or update the database schema, then exit.
    Migrate {
        #[arg(long, env = "LEDGER_DATABASE_URL", default_value = DEFAULT_DB)]
        database_url: String,
    },
}

const DEFAULT_DB: &str = "sqlite://promoseal-ledger.db";

#[derive(clap::Args)]
struct Serve {
    /// `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "LEDGER_DATABASE_URL", default_value = DEFAULT_DB)]
    database_url: String,
    #[arg(long, env = "LEDGER_LISTEN", default_value = "127.0.0.1:8788")]
    listen: SocketAddr,
    /// The signed trust root bundles are verified against.
    #[arg(long, env = "PROMOSEAL_ROOT")]
    root: Option<PathBuf>,
    /// Signed edge bundles to accept at start (also `POST /v1/bundles`).
    #[arg(long = "bundle")]
    bundles: Vec<PathBuf>,
    /// File holding the 64-hex-digit code secret shared with the edge.
    #[arg(long, env = "PROMOSEAL_CODE_SECRET_FILE")]
    code_secret_file: Option<PathBuf>,
    /// Bearer token every /v1 call must present (unset: no authentication; bind to loopback).
    #[arg(long, env = "LEDGER_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    #[arg(long, env = "LEDGER_MAX_CONNECTIONS", default_value_t = 16)]
    max_connections: u32,
    /// SQLite durability: `full` survives power loss, `normal` a process crash.
    #[arg(long, value_enum, default_value = "full")]
    sqlite_sync: Sync,
    /// Default reservation hold, seconds.
    #[arg(long, default_value_t = 900)]
    reservation_ttl: u64,
    /// Oldest quote (`context.now`) accepted, seconds before the ledger's clock.
    #[arg(long, default_value_t = 3600)]
    max_quote_age: i64,
    /// How long idempotency keys are kept, hours (at least 24).
    #[arg(long, default_value_t = 168)]
    key_retention_hours: i64,
    /// Fraud-signal thresholds as JSON, e.g. `{"attemptsPerIp": 100, "windowSeconds": 600}`.
    #[arg(long, env = "LEDGER_FRAUD_THRESHOLDS")]
    fraud_thresholds: Option<String>,
    /// How often lapsed reservations are released and old keys forgotten, seconds.
    #[arg(long, default_value_t = 5)]
    sweep_interval: u64,
    /// Every caller is the shop's own backend: take the request's `customer` as given (no
    /// customer claim needed) and do not limit code attempts. Never with an edge in front.
    #[arg(long, env = "LEDGER_TRUSTED_CALLERS")]
    trusted_callers: bool,
    /// Code attempts per client (the edge's `clientIp`, else the caller's address; IPv6 by
    /// /64), `count/seconds`.
    #[arg(long, default_value = "20/60")]
    code_attempts_per_client: ledger::attempts::Rate,
    /// Attempts with a code no active code set holds, per code, `count/seconds`.
    #[arg(long, default_value = "10/60")]
    unknown_code_attempts: ledger::attempts::Rate,
    /// Seconds after a new bundle version is accepted during which a promotion it removed or
    /// paused can still be redeemed through an older version.
    #[arg(long, default_value_t = 900)]
    withdrawal_grace: i64,
    /// Most reserves and redeems applied in one transaction (group commit); 1 gives each its
    /// own transaction.
    #[arg(long, env = "LEDGER_MAX_BATCH", default_value_t = ledger::group::MAX_BATCH as u64,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_batch: u64,
    /// Writer tasks taking turns at the batches on PostgreSQL (SQLite always has one).
    #[arg(long, env = "LEDGER_WRITERS", default_value_t = ledger::group::WRITERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=16))]
    writers: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Migrate { database_url } => {
            db::connect(&database_url, 1, Sync::Full).await?;
            println!("schema up to date");
            Ok(())
        }
        Command::Serve(s) => serve(*s).await,
    }
}

async fn serve(s: Serve) -> anyhow::Result<()> {
    if s.key_retention_hours < 24 {
        bail!("--key-retention-hours must be at least 24");
    }
    if s.api_token.is_none() && !s.listen.ip().is_loopback() {
        bail!("--listen on a non-loopback address needs --api-token (or LEDGER_API_TOKEN)");
    }
    let db = db::connect(&s.database_url, s.max_connections, s.sqlite_sync)
        .await
        .with_context(|| format!("opening {}", s.database_url))?;
    let root = match &s.root {
        None => None,
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Some(Arc::new(
                TrustRoot::from_envelope(&bytes)
                    .with_context(|| format!("trust root {}", p.display()))?,
            ))
        }
    };
    let secret = match &s.code_secret_file {
        Some(p) => CodeSecret::from_hex(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("code secret {}", p.display()))?,
        None => match std::env::var("PROMOSEAL_CODE_SECRET") {
            Ok(hex) => CodeSecret::from_hex(&hex).map_err(anyhow::Error::msg)?,
            Err(_) => {
                tracing::warn!("no code secret: hashed and generated codes cannot be checked");
                db.pepper().await?
            }
        },
    };
    let defaults = Settings::default();
    let fraud = match &s.fraud_thresholds {
        None => defaults.fraud,
        Some(json) => serde_json::from_str(json).context("--fraud-thresholds")?,
    };
    fraud
        .check()
        .map_err(|e| anyhow::anyhow!("--fraud-thresholds: {e}"))?;
    let settings = Settings {
        reservation_ttl: s.reservation_ttl,
        window: ledger::redeem::Window {
            max_quote_age: s.max_quote_age,
            withdrawal_grace: s.withdrawal_grace.max(0),
            ..defaults.window
        },
        key_retention: s.key_retention_hours.saturating_mul(3600),
        api_token: s.api_token.clone(),
        fraud,
        trusted_callers: s.trusted_callers,
        code_attempts_per_client: s.code_attempts_per_client,
        unknown_code_attempts: s.unknown_code_attempts,
        max_batch: usize::try_from(s.max_batch).unwrap_or(ledger::group::MAX_BATCH),
        writers: usize::try_from(s.writers).unwrap_or(ledger::group::WRITERS),
        ..defaults
    };
    let state = Arc::new(
        State::new(db, root, secret, settings, ledger::system_clock())
            .map_err(anyhow::Error::msg)?,
    );
    let loaded = state
        .load_stored_bundles()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for p in &s.bundles {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        match state.accept_bundle(&bytes).await {
            Ok(l) => tracing::info!(
                bundle = l.bundle.id(),
                version = l.bundle.version(),
                "bundle accepted"
            ),
            // A restart with an older file than a version accepted since: keep what is held.
            Err(e) if !state.bundles.list().is_empty() => {
                tracing::warn!(file = %p.display(), error = %e, detail = ?e.detail, "bundle not accepted");
            }
            Err(e) => bail!("bundle {}: {e}", p.display()),
        }
    }
    tracing::info!(stored = loaded, "bundles loaded");
    spawn_sweeper(state.clone(), Duration::from_secs(s.sweep_interval.max(1)));
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("listening on {}", s.listen))?;
    tracing::info!(listen = %s.listen, database = state.db.backend.name(), "ledger serving");
    println!("ledger listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        ledger::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    state.db.close().await;
    Ok(())
}

fn spawn_sweeper(state: Arc<State>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = state.now().seconds();
            state.attempts.forget_idle();
            if let Err(e) = state.db.sweep(now).await {
                tracing::warn!(error = %e, "sweep failed");
            }
            let before = now.saturating_sub(state.settings.key_retention);
            if let Err(e) = state.db.forget_keys(before).await {
                tracing::warn!(error = %e, "forgetting old keys failed");
            }
            // Versions other ledger instances on the same database accepted.
            if let Err(e) = state.load_stored_bundles().await {
                tracing::warn!(error = %e, "loading stored bundles failed");
            }
        }
    });
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
