//! `kill -9` of the ledger process in the middle of a load, then a restart on the same
//! database (or, with three instances on one database, of one of them while the others go on):
//! every acknowledged redemption is there, none is doubled, and replaying every request with
//! its key changes nothing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ledger::db::Backend;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::common::{payload, root_envelope, signed_bundle, TestDb, SECRET};
use promoseal_db::both;

both!(
    acknowledged_redemptions_survive_kill_9,
    one_of_three_instances_killed_under_load,
);

struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    /// A failing test must not leave a ledger running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &TestDb, dir: &std::path::Path, port: u16) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args([
            "serve",
            "--database-url",
            &db.url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--root")
        .arg(dir.join("root.env"))
        .arg("--bundle")
        .arg(dir.join("bundle.env"))
        .arg("--code-secret-file")
        .arg(dir.join("secret.hex"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn ready(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the ledger at {base} did not start");
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    promoseal_evaluator::time::Instant(secs as i64).to_string()
}

/// The request for order `n`: every third against the 100-use promotion, the rest unlimited.
fn body(n: usize) -> Value {
    let sku = if n % 3 == 0 { "sku-total" } else { "sku-open" };
    let (discount, total) = if n % 3 == 0 {
        ("5.00", "45.00")
    } else {
        ("7.50", "42.50")
    };
    json!({
        "orderId": format!("crash-{n}"),
        "bundle": {"id": "fixture", "version": 1},
        "input": {
            "cart": {"currency": "USD", "lines": [{"id": "1", "sku": sku, "unitPrice": "50.00", "quantity": 1}]},
            "customer": {"id": format!("c{}", n % 7)},
            "context": {"now": now(), "channel": "web"},
        },
        "quote": {"discountTotal": discount, "total": total},
    })
}

async fn acknowledged_redemptions_survive_kill_9(backend: Backend) {
    kill_under_load(backend, 1).await
}

/// Three instances on one database, 16 clients spread over them; the first is killed and the
/// clients of the other two go on.
async fn one_of_three_instances_killed_under_load(backend: Backend) {
    kill_under_load(backend, 3).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn kill_under_load(backend: Backend, instances: usize) {
    let db = TestDb::new(backend).await;
    let dir = std::env::temp_dir().join(format!(
        "promoseal-crash-{}-{}-{instances}",
        std::process::id(),
        backend.name()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.env"), root_envelope()).unwrap();
    std::fs::write(dir.join("bundle.env"), signed_bundle(1)).unwrap();
    std::fs::write(
        dir.join("secret.hex"),
        promoseal_evaluator::codes::encode_hex(&SECRET),
    )
    .unwrap();
    assert_eq!(payload(1)["version"], 1);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // One after the other: each is ready (its schema checked) before the next starts.
    let mut procs = Vec::new();
    for _ in 0..instances {
        let p = spawn(&db, &dir, free_port());
        ready(&http, &p.base).await;
        procs.push(p);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // 16 clients send orders until told to stop; the answers they got are recorded.
    let acked: Arc<Mutex<Vec<(usize, Value)>>> = Arc::default();
    let sent: Arc<Mutex<Vec<(usize, Value)>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..16 {
        let (http, base, acked, sent, next, stop) = (
            http.clone(),
            procs[client % instances].base.clone(),
            acked.clone(),
            sent.clone(),
            next.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let b = body(n);
                sent.lock().await.push((n, b.clone()));
                let r = http
                    .post(format!("{base}/v1/redemptions"))
                    .header("Idempotency-Key", format!("crash-key-{n}"))
                    .json(&b)
                    .send()
                    .await;
                let Ok(r) = r else { return };
                let status = r.status().as_u16();
                let Ok(v) = r.json::<Value>().await else {
                    return;
                };
                match status {
                    201 => acked.lock().await.push((n, v)),
                    409 => assert_eq!(v["error"]["code"], "limitReached", "{v}"),
                    _ => panic!("unexpected {status}: {v}"),
                }
            }
        }));
    }
    // Kill in the middle of the load.
    while acked.lock().await.len() < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = procs.remove(0);
    let port = killed
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let mut killed = killed;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    drop(killed);
    if !procs.is_empty() {
        // The others go on: 200 more acknowledged through them.
        let before = acked.lock().await.len();
        while acked.lock().await.len() < before + 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().await.clone();
    let sent = sent.lock().await.clone();

    // Checked through a survivor, or through the one instance started again.
    let proc = match procs.into_iter().next() {
        Some(p) => p,
        None => spawn(&db, &dir, port),
    };
    ready(&http, &proc.base).await;
    for (n, v) in &acked {
        let id = v["id"].as_str().unwrap();
        let r = http
            .get(format!("{}/v1/redemptions/{id}", proc.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged order {n} lost");
        assert_eq!(r.json::<Value>().await.unwrap(), *v);
    }
    // Replaying every request sent, acknowledged or not, with its key: the acknowledged get
    // their first answer back; the others are decided now, once.
    for (n, b) in &sent {
        let r = http
            .post(format!("{}/v1/redemptions", proc.base))
            .header("Idempotency-Key", format!("crash-key-{n}"))
            .json(b)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        if let Some((_, first)) = acked.iter().find(|(m, _)| m == n) {
            assert_eq!((status, &v), (201, first), "order {n}");
        } else {
            assert!(
                status == 201 || v["error"]["code"] == "limitReached",
                "order {n}: {status} {v}"
            );
        }
    }
    let (s, r) = {
        let r = http
            .get(format!("{}/v1/reports?by=promotion", proc.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    let orders: i64 = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["orders"].as_i64().unwrap())
        .sum();
    // Every sent order is committed exactly once, but the 100-use promotion never past 100.
    let limited = sent.iter().filter(|(n, _)| n % 3 == 0).count() as i64;
    let open = sent.len() as i64 - limited;
    assert_eq!(orders, open + limited.min(100), "{r}");
    drop(proc);
    db.drop_now().await;
    let _ = std::fs::remove_dir_all(&dir);
}
