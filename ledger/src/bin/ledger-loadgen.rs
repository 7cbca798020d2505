//! `ledger-loadgen`: sustained one-shot redemptions against a running ledger, with 1, 16, 64…
//! concurrent clients, reporting redemptions per second and p50/p99 latency.
//!
//! `ledger-loadgen fixture --out DIR` writes a trust root, a signed edge bundle and a code
//! secret made from fixed development keys (never use them for a shop), for
//! `ledger serve --root DIR/root.env --bundle DIR/bundle.env`. `ledger-loadgen run --url URL`
//! then loads it: every request is a new order (20-line cart, three limited promotions, so
//! each redemption takes the total, per-customer and budget counters) with a new key.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use promoseal_evaluator::seal::{Envelope, EnvelopeType, SigningIdentity};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "ledger-loadgen",
    about = "Load generator for the Promoseal ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write root.env, bundle.env and secret.hex for the load.
    Fixture {
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the load and print one table row per client count.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:8788")]
        url: String,
        /// Client counts, comma-separated.
        #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
        clients: Vec<usize>,
        /// Seconds per client count (after a one-second warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A label for the table (the database, say).
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, env = "LEDGER_API_TOKEN")]
        token: Option<String>,
    },
}

fn payload(now: i64) -> Value {
    let start = promoseal_evaluator::time::Instant(now - 86_400);
    let end = promoseal_evaluator::time::Instant(now + 30 * 86_400);
    json!({
        "format": 1, "bundleId": "loadgen", "audience": "edge", "version": 1,
        "issuedAt": start, "expiresAt": end, "currency": "USD", "timeZone": "UTC",
        "promotions": [
            {"id": "sitewide", "name": "10% off", "reward": {"type": "percentOff", "percent": "10"},
             "stacking": {"combinesWith": ["order", "shipping"]},
             "limits": {"totalUses": 1_000_000_000u64, "perCustomer": 1_000_000u64, "budget": "1000000000.00"}},
            {"id": "order-5", "name": "$5 off $100", "conditions": {"minSubtotal": "100.00"},
             "reward": {"type": "amountOff", "amount": "5.00", "per": "order"},
             "stacking": {"combinesWith": ["product", "shipping"]},
             "limits": {"totalUses": 1_000_000_000u64, "perDay": 1_000_000_000u64}},
        ],
    })
}

fn cart(order: u64, now: i64) -> Value {
    let lines: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("{i}"), "sku": format!("SKU-{i}"), "unitPrice": "12.50",
                         "quantity": 1 + i % 3, "taxRate": "8.875"})
        })
        .collect();
    json!({
        "cart": {"currency": "USD", "lines": lines},
        "customer": {"id": format!("cust-{}", order % 5000), "email": format!("c{}@example.com", order % 5000)},
        "context": {"now": promoseal_evaluator::time::Instant(now), "channel": "web"},
    })
}

fn keys() -> (SigningIdentity, SigningIdentity) {
    (
        SigningIdentity::from_seed("loadgen-root", [31; 32]),
        SigningIdentity::from_seed("loadgen-release", [32; 32]),
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn fixture(out: &std::path::Path) -> anyhow::Result<()> {
    let (root, release) = keys();
    std::fs::create_dir_all(out)?;
    let root_payload = json!({"format": 1, "version": 1, "keys": [
        {"id": "loadgen-root", "publicKey": root.public_key(), "roles": ["root"]},
        {"id": "loadgen-release", "publicKey": release.public_key(), "roles": ["release"]},
    ]});
    std::fs::write(
        out.join("root.env"),
        Envelope::seal(
            EnvelopeType::Root,
            root_payload.to_string().as_bytes(),
            &[&root],
        ),
    )?;
    let bundle = payload(unix_now()).to_string();
    std::fs::write(
        out.join("bundle.env"),
        Envelope::seal(EnvelopeType::Bundle, bundle.as_bytes(), &[&release]),
    )?;
    std::fs::write(out.join("bundle.json"), bundle)?;
    std::fs::write(out.join("secret.hex"), "33".repeat(32))?;
    println!("wrote {}/{{root.env,bundle.env,secret.hex}}", out.display());
    Ok(())
}

struct Level {
    clients: usize,
    ok: u64,
    errors: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

async fn level(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    bundle: &Arc<promoseal_evaluator::Bundle>,
    clients: usize,
    seconds: u64,
    seq: &Arc<AtomicU64>,
) -> anyhow::Result<Level> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, token, bundle, seq, stop, measuring) = (
            http.clone(),
            url.to_string(),
            token.map(str::to_string),
            bundle.clone(),
            seq.clone(),
            stop.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::with_capacity(1 << 14), 0u64);
            let run = format!("{:x}", unix_now());
            while !stop.load(Ordering::Relaxed) {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let now = unix_now();
                let input = cart(n, now);
                let parsed = promoseal_evaluator::parse_input(input.to_string().as_bytes())?;
                let e = promoseal_evaluator::evaluate(&bundle, &parsed)?;
                let body = json!({
                    "orderId": format!("load-{run}-{n}"),
                    "bundle": {"id": "loadgen", "version": 1},
                    "input": input,
                    "quote": {"discountTotal": e.discount_total.to_string(), "total": e.total.to_string()},
                });
                let mut req = http
                    .post(format!("{url}/v1/redemptions"))
                    .header("Idempotency-Key", format!("load-{run}-{n}"))
                    .json(&body);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t0 = Clock::now();
                let r = req.send().await;
                let ok = match r {
                    Ok(r) => r.status() == 201 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let took = t0.elapsed();
                if measuring.load(Ordering::Relaxed) {
                    if ok { lat.push(took) } else { errors += 1 }
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let t0 = Clock::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await??;
        all.extend(lat);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).saturating_sub(1);
        all.get(i).copied().unwrap_or_default()
    };
    Ok(Level {
        clients,
        ok: all.len() as u64,
        errors,
        seconds: elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fixture { out } => fixture(&out),
        Command::Run {
            url,
            clients,
            seconds,
            label,
            token,
        } => {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?;
            let health = http
                .get(format!("{url}/healthz"))
                .send()
                .await
                .context("the ledger is not reachable")?;
            if !health.status().is_success() {
                bail!("the ledger is not healthy: {}", health.status());
            }
            // The quote is priced locally with the same bundle, as the edge would.
            let bundle = Arc::new(promoseal_evaluator::Bundle::from_json(
                payload(unix_now()).to_string().as_bytes(),
            )?);
            let seq = Arc::new(AtomicU64::new(0));
            println!("| database | clients | redemptions/s | p50 | p99 | errors |");
            println!("|---|---|---|---|---|---|");
            for c in clients {
                let l = level(&http, &url, token.as_deref(), &bundle, c, seconds, &seq).await?;
                println!(
                    "| {label} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                    l.clients,
                    l.ok as f64 / l.seconds,
                    l.p50.as_secs_f64() * 1e3,
                    l.p99.as_secs_f64() * 1e3,
                    l.errors
                );
            }
            Ok(())
        }
    }
}
