//! `ledger-loadgen`: sustained one-shot redemptions against a running ledger, with 1, 16, 64…
//! concurrent clients, reporting redemptions per second and p50/p99 latency.
//!
//! `ledger-loadgen fixture --out DIR` writes a trust root, a signed edge bundle and a code
//! secret made from fixed development keys (never use them for a shop), for
//! `ledger serve --root DIR/root.env --bundle DIR/bundle.env`. `ledger-loadgen run --url URL`
//! then loads it: every request is a new order from a new customer (a 20-line cart) with a new
//! key, and takes the total, per-day, per-customer and budget counters of one promotion: the
//! same `hot` one for every order (`--workload hot`, a sale's first hour), or one of 64
//! (`--workload spread`). The requests are priced before the load starts, so the generator's
//! own work per request is a string format and an HTTP call.

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
        /// Every order on one promotion, or spread over 64.
        #[arg(long, value_enum, default_value = "hot")]
        workload: Workload,
        #[arg(long, env = "LEDGER_API_TOKEN")]
        token: Option<String>,
    },
}

/// How many promotions the spread workload spreads its orders over.
const SPREAD: u64 = 64;

fn payload(now: i64) -> Value {
    let start = promoseal_evaluator::time::Instant(now - 86_400);
    let end = promoseal_evaluator::time::Instant(now + 30 * 86_400);
    let mut p = json!({
        "format": 1, "bundleId": "loadgen", "audience": "edge", "version": 1,
        "issuedAt": start, "expiresAt": end, "currency": "USD", "timeZone": "UTC",
        "promotions": [
            {"id": "hot", "name": "10% off the sale", "items": {"skus": ["HOT"]},
             "reward": {"type": "percentOff", "percent": "10"},
             "limits": {"totalUses": 1_000_000_000u64, "perDay": 1_000_000_000u64,
                        "perCustomer": 1, "budget": "1000000000.00"}},
        ],
    });
    // The spread workload's promotions: one per SKU `S-k`, the same limits.
    if let Some(list) = p.get_mut("promotions").and_then(Value::as_array_mut) {
        for k in 0..SPREAD {
            list.push(
                json!({"id": format!("p-{k}"), "name": format!("10% off S-{k}"),
                "items": {"skus": [format!("S-{k}")]},
                "reward": {"type": "percentOff", "percent": "10"},
                "limits": {"totalUses": 1_000_000_000u64, "perDay": 1_000_000_000u64,
                           "perCustomer": 1, "budget": "1000000000.00"}}),
            );
        }
    }
    p
}

/// Order `order`'s 20-line cart: every line the hot promotion's SKU, or (spread) promotion
/// `order % 64`'s; each order from another customer.
fn cart(workload: Workload, order: u64, now: i64) -> Value {
    let sku = match workload {
        Workload::Hot => "HOT".to_string(),
        Workload::Spread => format!("S-{}", order % SPREAD),
    };
    let lines: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("{i}"), "sku": sku, "unitPrice": "12.50",
                         "quantity": 1 + i % 3, "taxRate": "8.875"})
        })
        .collect();
    json!({
        "cart": {"currency": "USD", "lines": lines},
        "customer": {"id": format!("cust-{order}"), "email": format!("c{order}@example.com")},
        "context": {"now": promoseal_evaluator::time::Instant(now), "channel": "web"},
    })
}

/// Which promotions the orders take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    /// Every order takes the one `hot` promotion (its total, per-day, per-customer and budget
    /// counters).
    Hot,
    /// Order n takes promotion `p-{n % 64}`.
    Spread,
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

/// The requests' fixed parts, priced before the load starts (the ledger is measured, not the
/// generator): per variant (the hot SKU, or each spread SKU), the cart's lines and the quote.
struct Priced {
    now: i64,
    variants: Vec<(String, String)>,
}

impl Priced {
    fn new(bundle: &promoseal_evaluator::Bundle, workload: Workload) -> anyhow::Result<Priced> {
        let now = unix_now();
        let count = match workload {
            Workload::Hot => 1,
            Workload::Spread => SPREAD,
        };
        let mut variants = Vec::new();
        for order in 0..count {
            let input = cart(workload, order, now);
            let parsed = promoseal_evaluator::parse_input(input.to_string().as_bytes())?;
            let e = promoseal_evaluator::evaluate(bundle, &parsed)?;
            if e.applied.is_empty() {
                bail!("the load's cart takes no promotion");
            }
            let quote = json!({"discountTotal": e.discount_total.to_string(), "total": e.total.to_string()});
            let cart = input.get("cart").map(Value::to_string).unwrap_or_default();
            variants.push((cart, quote.to_string()));
        }
        Ok(Priced { now, variants })
    }

    /// Order `n`'s request body: a new order from a new customer.
    fn body(&self, run: &str, n: u64) -> String {
        let len = self.variants.len().max(1) as u64;
        let (cart, quote) = self
            .variants
            .get(usize::try_from(n % len).unwrap_or(0))
            .map_or(("{}", "{}"), |(c, q)| (c.as_str(), q.as_str()));
        let now = promoseal_evaluator::time::Instant(self.now);
        format!(
            r#"{{"orderId":"load-{run}-{n}","bundle":{{"id":"loadgen","version":1}},"input":{{"cart":{cart},"customer":{{"id":"cust-{run}-{n}","email":"c{run}-{n}@example.com"}},"context":{{"now":"{now}","channel":"web"}}}},"quote":{quote}}}"#
        )
    }
}

async fn level(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    priced: &Arc<Priced>,
    clients: usize,
    seconds: u64,
    seq: &Arc<AtomicU64>,
) -> anyhow::Result<Level> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, token, priced, seq, stop, measuring) = (
            http.clone(),
            url.to_string(),
            token.map(str::to_string),
            priced.clone(),
            seq.clone(),
            stop.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::with_capacity(1 << 14), 0u64);
            let run = format!("{:x}", unix_now());
            while !stop.load(Ordering::Relaxed) {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let mut req = http
                    .post(format!("{url}/v1/redemptions"))
                    .header("Idempotency-Key", format!("load-{run}-{n}"))
                    .header("Content-Type", "application/json")
                    .body(priced.body(&run, n));
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
                    if ok {
                        lat.push(took)
                    } else {
                        errors += 1
                    }
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
            workload,
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
            // The quotes are priced locally with the same bundle, as the edge would, before
            // the load starts.
            let bundle =
                promoseal_evaluator::Bundle::from_json(payload(unix_now()).to_string().as_bytes())?;
            let priced = Arc::new(Priced::new(&bundle, workload)?);
            let seq = Arc::new(AtomicU64::new(0));
            println!("| database | workload | clients | redemptions/s | p50 | p99 | errors |");
            println!("|---|---|---|---|---|---|---|");
            for c in clients {
                let l = level(&http, &url, token.as_deref(), &priced, c, seconds, &seq).await?;
                println!(
                    "| {label} | {workload:?} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
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
