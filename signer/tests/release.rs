//! The release engineer's walkthrough, end to end, as the README tells it: keys, trust root,
//! codes, lint, approvals, signing, verification, inspection, evaluation, deactivation and
//! rotation, with one refusal for each way it can go wrong.

// Test code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

struct Run {
    dir: PathBuf,
}

impl Run {
    fn new(name: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("promoseal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("shop/promotions")).unwrap();
        Run { dir }
    }

    fn cmd(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_promoseal"))
            .args(args)
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args, None);
        assert!(o.status.success(), "{args:?} failed:\n{}", text(&o.stderr));
        text(&o.stdout)
    }

    /// Runs and expects exit `code` with `fragment` on stderr.
    fn fails(&self, args: &[&str], code: i32, fragment: &str) {
        let o = self.cmd(args, None);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}:\n{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let err = text(&o.stderr);
        assert!(
            err.contains(fragment),
            "{args:?}: `{fragment}` not in:\n{err}"
        );
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `root create` of `root.json` into `shop/root.env`, signed by the keys named.
fn root_create(keys: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "root",
        "create",
        "--from",
        "root.json",
        "--out",
        "shop/root.env",
    ]
    .map(String::from)
    .to_vec();
    for k in keys {
        args.extend(["--key".to_string(), format!("keys/{k}.key")]);
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn pub_key(run: &Run, id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(run.path(&format!("keys/{id}.pub.json"))).unwrap())
        .unwrap()
}

const NOW: &str = "2026-06-01T00:00:00Z";

fn cart(codes: &[&str]) -> String {
    json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": "RUN-1", "categories": ["shoes"], "unitPrice": "100.00", "quantity": 1, "unitCost": "40.00"},
            {"id": "2", "sku": "SOCK-1", "categories": ["socks"], "unitPrice": "10.00", "quantity": 2, "unitCost": "2.00"}
        ]},
        "context": {"now": NOW, "codes": codes}
    })
    .to_string()
}

fn applied(out: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(out).unwrap();
    v["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["promotionId"].as_str().unwrap().to_string())
        .collect()
}

fn first_code(run: &Run, csv: &str, row: usize) -> String {
    let text = std::fs::read_to_string(run.path(csv)).unwrap();
    text.lines()
        .nth(row)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn keys_to_published_bundle_and_every_refusal() {
    let run = Run::new("release");
    // 1. Keys: secret files are 0600, public entries are printed.
    for (id, role) in [
        ("root-1", "root"),
        ("root-2", "root"),
        ("release-1", "release"),
        ("marketing-1", "marketing"),
        ("finance-1", "finance"),
        ("edge-1", "edge"),
    ] {
        let out = run.ok(&["keygen", "--id", id, "--role", role, "--out", "keys"]);
        assert!(out.contains("publicKey"), "{out}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(run.path("keys/release-1.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    run.fails(
        &[
            "keygen", "--id", "root-1", "--role", "root", "--out", "keys",
        ],
        1,
        "refusing to overwrite",
    );
    // An approver's authorization limits go into its public entry; bad ones are refused.
    let out = run.ok(&[
        "keygen",
        "--id",
        "finance-9",
        "--role",
        "finance",
        "--out",
        "keys",
        "--max-percent",
        "30",
        "--max-budget",
        "USD:20000",
        "--max-budget",
        "EUR:18000",
    ]);
    let entry: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        entry["limits"],
        json!({"maxPercent": "30", "maxBudget": {"EUR": "18000", "USD": "20000"}})
    );
    run.fails(
        &[
            "keygen",
            "--id",
            "finance-8",
            "--role",
            "finance",
            "--out",
            "keys",
            "--max-amount",
            "50",
        ],
        1,
        "write CURRENCY:AMOUNT",
    );
    assert!(!run.path("keys/finance-8.key").exists());

    // 2. The trust root: two root keys must sign; finance approves anything above 20 %.
    let keys: Vec<Value> = [
        "root-1",
        "root-2",
        "release-1",
        "marketing-1",
        "finance-1",
        "edge-1",
    ]
    .iter()
    .map(|k| pub_key(&run, k))
    .collect();
    let root = json!({
        "format": 1, "version": 1, "keys": keys,
        "thresholds": {"root": 2},
        "approvals": {"required": ["marketing"], "rules": [{"role": "finance", "percentAbove": "20"}]}
    });
    run.write("root.json", &root.to_string());
    run.fails(&strs(&root_create(&["root-1"])), 3, "below threshold");
    let create = root_create(&["root-1", "root-2"]);
    let create = strs(&create);
    run.ok(&create);
    // A root is never replaced in place: a successor is a rotation.
    run.fails(&create, 1, "refusing to replace a trust root");

    // 3. The project: settings, three promotions, codes.
    run.write(
        "shop/promoseal.toml",
        "bundleId = \"walkthrough\"\ncurrency = \"USD\"\nvalidDays = 30\n",
    );
    run.write(
        "shop/promotions/welcome.toml",
        "id = \"welcome\"\nname = \"10% off socks\"\nitems = { categories = [\"socks\"] }\nreward = { type = \"percentOff\", percent = \"10\" }\n",
    );
    run.write(
        "shop/promotions/vip.toml",
        "id = \"vip-shoes\"\nname = \"30% off shoes for VIPs\"\ncodeSet = \"vip\"\nitems = { categories = [\"shoes\"] }\nreward = { type = \"percentOff\", percent = \"30\" }\nstacking = { combinesWith = [\"order\"] }\nlimits = { budget = \"5000\", perCustomer = 1 }\n",
    );
    run.write(
        "shop/promotions/spring.toml",
        "id = \"spring\"\nname = \"$5 off the order\"\ncodeSet = \"spring\"\nreward = { type = \"amountOff\", amount = \"5\", per = \"order\" }\nstacking = { combinesWith = [\"product\"] }\nlimits = { singleUseCodes = true, totalUses = 100 }\n",
    );
    run.ok(&["codes", "secret", "--out", "keys/codes.secret"]);
    run.write(
        "vip.csv",
        "Customer;Coupon Code\nAnna;VIP-ANNA\nBoris;vip-boris\nBoris;VIP-BORIS\n",
    );
    let out = run.ok(&[
        "codes",
        "import",
        "--project",
        "shop",
        "--set",
        "vip",
        "--file",
        "vip.csv",
        "--secret",
        "keys/codes.secret",
    ]);
    assert!(out.contains("2 listed codes"), "{out}");
    run.ok(&[
        "codes",
        "generate",
        "--project",
        "shop",
        "--set",
        "spring",
        "--count",
        "100",
        "--prefix",
        "SPR-",
        "--secret",
        "keys/codes.secret",
        "--out",
        "spring-codes.csv",
    ]);
    let spring_code = first_code(&run, "spring-codes.csv", 1);
    assert!(
        spring_code.starts_with("SPR-") && spring_code.len() == 16,
        "{spring_code}"
    );
    let codes_file = std::fs::read_to_string(run.path("shop/codes/vip.json")).unwrap();
    assert!(
        !codes_file.contains("VIP-ANNA"),
        "no plaintext in the project"
    );

    // 4. Lint: a clean policy passes, a strict one fails with a non-zero exit.
    run.write(
        "shop/policy.toml",
        "maxPercent = \"50\"\nmaxAmount = \"20\"\n",
    );
    run.write("shop/samples/typical.json", &cart(&[]));
    let report = run.ok(&["lint", "--project", "shop"]);
    assert!(report.contains("vip-shoes"), "{report}");
    run.write("strict.toml", "maxPercent = \"20\"\n");
    let o = run.cmd(
        &["lint", "--project", "shop", "--policy", "strict.toml"],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("maxPercent"),
        "{}",
        text(&o.stdout)
    );

    // 5. Signing refuses unapproved promotions.
    let sign = [
        "sign",
        "--project",
        "shop",
        "--key",
        "keys/release-1.key",
        "--now",
        NOW,
    ];
    run.fails(&sign, 1, "lack approvals");
    // An approval by a key that cannot approve is refused before anything is signed: a key
    // with machine roles only, a key the root does not list.
    let approve_as = |key: &str| {
        [
            "approve",
            "--project",
            "shop",
            "--promotion",
            "welcome",
            "--key",
            key,
            "--yes",
        ]
        .map(String::from)
    };
    let args = approve_as("keys/release-1.key");
    run.fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        "key `release-1` has no approving role",
    );
    run.ok(&[
        "keygen",
        "--id",
        "stranger-1",
        "--role",
        "marketing",
        "--out",
        "keys",
    ]);
    let args = approve_as("keys/stranger-1.key");
    run.fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        "key `stranger-1` is not in the trust root",
    );
    assert!(!run.path("shop/approvals/welcome.release-1.json").exists());
    assert!(!run.path("shop/approvals/welcome.stranger-1.json").exists());
    // Marketing approves the three at once: one signature over their batch.
    let out = run.ok(&[
        "approve",
        "--project",
        "shop",
        "--promotion",
        "welcome",
        "--promotion",
        "vip-shoes",
        "--promotion",
        "spring",
        "--key",
        "keys/marketing-1.key",
        "--yes",
    ]);
    assert!(out.contains("You are approving"), "{out}");
    assert_eq!(out.matches("content digest:").count(), 3, "{out}");
    let record = |p: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(run.path(&format!("shop/approvals/{p}.marketing-1.json")))
                .unwrap(),
        )
        .unwrap()
    };
    let (w, v) = (record("welcome"), record("vip-shoes"));
    assert_eq!(w["signature"], v["signature"], "one batch, one signature");
    assert_eq!(w["digests"].as_array().unwrap().len(), 3);
    assert_ne!(w["digest"], v["digest"]);
    run.fails(&sign, 1, "`vip-shoes` needs 1 `finance` approval");
    // Approval asks first; "n" declines.
    let o = run.cmd(
        &[
            "approve",
            "--project",
            "shop",
            "--promotion",
            "vip-shoes",
            "--key",
            "keys/finance-1.key",
        ],
        Some("n\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("30% off items in categories shoes"),
        "{}",
        text(&o.stdout)
    );
    let o = run.cmd(
        &[
            "approve",
            "--project",
            "shop",
            "--promotion",
            "vip-shoes",
            "--key",
            "keys/finance-1.key",
        ],
        Some("y\n"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = run.ok(&sign);
    assert!(
        out.contains("edge bundle v1") && out.contains("storefront bundle v1"),
        "{out}"
    );

    // 6. Verify, inspect: the storefront bundle holds no code material.
    let verify = |bundle: &str, audience: &str| {
        vec![
            "verify".to_string(),
            "--root".into(),
            "shop/root.env".into(),
            "--bundle".into(),
            bundle.to_string(),
            "--audience".into(),
            audience.to_string(),
            "--now".into(),
            NOW.into(),
        ]
    };
    let edge = verify("shop/published/edge.bundle", "edge");
    let edge_refs: Vec<&str> = edge.iter().map(String::as_str).collect();
    assert!(run
        .ok(&edge_refs)
        .contains("valid: bundle `walkthrough` version 1"));
    let store = verify("shop/published/storefront.bundle", "storefront");
    let store_refs: Vec<&str> = store.iter().map(String::as_str).collect();
    run.ok(&store_refs);
    let wrong = verify("shop/published/edge.bundle", "storefront");
    let wrong_refs: Vec<&str> = wrong.iter().map(String::as_str).collect();
    run.fails(&wrong_refs, 3, "invalid bundle: wrong audience");
    let storefront = std::fs::read_to_string(run.path("shop/published/storefront.bundle")).unwrap();
    assert!(!storefront.contains("codeSets") && !storefront.contains("hashes"));
    assert!(storefront.contains("\"locked\":true"));
    // The bundle carries the marketing batch once and finance's batch of one.
    let edge_bytes = std::fs::read(run.path("shop/published/edge.bundle")).unwrap();
    let nl = edge_bytes.iter().position(|b| *b == b'\n').unwrap();
    let payload: Value = serde_json::from_slice(&edge_bytes[nl + 1..]).unwrap();
    let batches: Vec<(String, usize)> = payload["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["keyId"].as_str().unwrap().to_string(),
                a["digests"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert!(batches.contains(&("marketing-1".into(), 3)), "{batches:?}");
    assert!(batches.contains(&("finance-1".into(), 1)), "{batches:?}");
    let inspect = run.ok(&["inspect", "shop/published/edge.bundle", "--now", NOW]);
    assert!(
        inspect.contains("approved by: finance-1, marketing-1 (not verified here"),
        "{inspect}"
    );
    assert!(
        inspect.contains("generated campaign `spring`: 100 codes"),
        "{inspect}"
    );
    assert!(inspect.contains("2 listed codes"), "{inspect}");
    let inspect_root = run.ok(&["inspect", "shop/root.env"]);
    assert!(
        inspect_root.contains("threshold: 2 `root` signatures"),
        "{inspect_root}"
    );

    // 7. Evaluate the signed bundle as the edge does.
    run.write("cart-vip.json", &cart(&["vip-anna", &spring_code]));
    let eval = [
        "eval",
        "--bundle",
        "shop/published/edge.bundle",
        "--root",
        "shop/root.env",
        "--cart",
        "cart-vip.json",
        "--code-secret",
        "keys/codes.secret",
    ];
    let got = applied(&run.ok(&eval));
    assert!(
        got.contains(&"vip-shoes".into()) && got.contains(&"spring".into()),
        "{got:?}"
    );
    // Without the code secret, no code is recognized.
    let got = applied(&run.ok(&eval[..7]));
    assert!(!got.contains(&"vip-shoes".into()), "{got:?}");

    // 8. Deactivate a code: effective from the next version, which is v2.
    run.ok(&[
        "codes",
        "deactivate",
        "--project",
        "shop",
        "--set",
        "vip",
        "--code",
        "VIP-ANNA",
        "--secret",
        "keys/codes.secret",
    ]);
    assert!(run.ok(&sign).contains("edge bundle v2"));
    let got = applied(&run.ok(&eval));
    assert!(
        !got.contains(&"vip-shoes".into()) && got.contains(&"spring".into()),
        "{got:?}"
    );
    let exported = run.ok(&[
        "codes",
        "export",
        "--project",
        "shop",
        "--set",
        "spring",
        "--secret",
        "keys/codes.secret",
    ]);
    assert!(
        exported.contains(&format!("{spring_code},0,active")),
        "{exported}"
    );
    // Another code secret is refused by every command that uses the set, before it writes or
    // prints anything: its codes would be refused everywhere.
    run.ok(&["codes", "secret", "--out", "keys/other.secret"]);
    for (command, set) in [
        ("export", "spring"),
        ("deactivate", "vip"),
        ("import", "vip"),
    ] {
        let mut args = vec![
            "codes",
            command,
            "--project",
            "shop",
            "--set",
            set,
            "--secret",
            "keys/other.secret",
        ];
        if command != "export" {
            args.extend(["--code", "VIP-BEN"]);
        }
        run.fails(&args, 1, "was made with another code secret");
    }

    // 9. Refusals: tampering, expiry, rollback, a stale approval.
    let mut tampered = std::fs::read(run.path("shop/published/edge.bundle")).unwrap();
    let n = tampered.len();
    tampered[n - 3] ^= 0x01;
    std::fs::write(run.path("tampered.bundle"), tampered).unwrap();
    let t = verify("tampered.bundle", "edge");
    let t_refs: Vec<&str> = t.iter().map(String::as_str).collect();
    run.fails(&t_refs, 3, "bad signature");
    let mut late = edge.clone();
    late[8] = "2026-08-01T00:00:00Z".into();
    let late_refs: Vec<&str> = late.iter().map(String::as_str).collect();
    run.fails(&late_refs, 3, "expired");
    let v1 = verify("shop/published/edge-v1.bundle", "edge");
    let mut v1_refs: Vec<&str> = v1.iter().map(String::as_str).collect();
    v1_refs.extend(["--min-version", "2"]);
    run.fails(&v1_refs, 3, "rollback");
    run.write(
        "shop/promotions/vip.toml",
        "id = \"vip-shoes\"\nname = \"35% off shoes for VIPs\"\ncodeSet = \"vip\"\nitems = { categories = [\"shoes\"] }\nreward = { type = \"percentOff\", percent = \"35\" }\nstacking = { combinesWith = [\"order\"] }\nlimits = { budget = \"5000\", perCustomer = 1 }\n",
    );
    let o = run.cmd(&sign, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("stale approval"),
        "{}",
        text(&o.stderr)
    );

    // 10. Rotation: the new root needs both old root keys and its own.
    run.ok(&[
        "keygen", "--id", "root-3", "--role", "root", "--out", "keys",
    ]);
    let mut next = root.clone();
    next["version"] = json!(2);
    next["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["id"] != "root-1");
    next["keys"]
        .as_array_mut()
        .unwrap()
        .push(pub_key(&run, "root-3"));
    // A successor that is not version + 1 is refused: no signature could make it accepted.
    let mut skipped = next.clone();
    skipped["version"] = json!(5);
    run.write("root5.json", &skipped.to_string());
    run.fails(
        &[
            "root",
            "rotate",
            "--current",
            "shop/root.env",
            "--from",
            "root5.json",
            "--key",
            "keys/root-3.key",
            "--out",
            "root-v5.env",
        ],
        1,
        "version 5: the successor of root v1 is version 2",
    );
    assert!(!run.path("root-v5.env").exists());
    run.write("root2.json", &next.to_string());
    let out = run.ok(&[
        "root",
        "rotate",
        "--current",
        "shop/root.env",
        "--from",
        "root2.json",
        "--key",
        "keys/root-3.key",
        "--key",
        "keys/root-2.key",
        "--out",
        "root-v2.env",
    ]);
    assert!(out.contains("not yet accepted"), "{out}");
    let v2 = verify("shop/published/edge.bundle", "edge");
    let mut v2_refs: Vec<&str> = v2.iter().map(String::as_str).collect();
    v2_refs.extend(["--rotation", "root-v2.env"]);
    run.fails(&v2_refs, 3, "rotation not signed by the previous root");
    run.ok(&["cosign", "root-v2.env", "--key", "keys/root-1.key"]);
    assert!(run.ok(&v2_refs).contains("trust root v2"));
    assert!(Path::new(&run.path("root-v2.env")).exists());
}

#[test]
fn customer_claims_are_signed_by_shop_keys_and_verified_by_the_root() {
    use promoseal_evaluator::seal::{vouch, Envelope, EnvelopeType, SigningIdentity, TrustRoot};
    use promoseal_evaluator::time::Instant;
    let run = Run::new("claim");
    run.ok(&[
        "keygen", "--id", "shop-1", "--role", "shop", "--out", "keys",
    ]);
    let now = "2026-06-01T12:00:00Z";
    let claim = run
        .ok(&[
            "claim",
            "--key",
            "keys/shop-1.key",
            "--customer",
            r#"{"id": "cus_1", "tier": "gold", "segments": ["members"]}"#,
            "--ttl",
            "600",
            "--now",
            now,
        ])
        .trim()
        .to_string();
    // A root that lists the shop key vouches for the claim's customer.
    let root_key = SigningIdentity::from_seed("root-1", [1; 32]);
    let release = SigningIdentity::from_seed("release-1", [2; 32]);
    let payload = json!({"format": 1, "version": 1, "keys": [
        {"id": "root-1", "publicKey": root_key.public_key(), "roles": ["root"]},
        {"id": "release-1", "publicKey": release.public_key(), "roles": ["release"]},
        pub_key(&run, "shop-1"),
    ]});
    let root = TrustRoot::from_envelope(&Envelope::seal(
        EnvelopeType::Root,
        payload.to_string().as_bytes(),
        &[&root_key],
    ))
    .unwrap();
    let mut input = promoseal_evaluator::parse_input(
        json!({"cart": {"currency": "USD", "lines": []}, "customer": {"tier": "bronze"},
               "context": {"now": now, "customerClaim": claim}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    vouch(&root, &mut input, Instant::parse(now).unwrap());
    let c = input.customer.unwrap();
    assert_eq!(
        (c.id.as_deref(), c.tier.as_deref()),
        (Some("cus_1"), Some("gold"))
    );
    // Bad requests are refused with what is wrong: a customer that is not one, a lifetime
    // beyond the limit, and an expiry RFC 3339 cannot write (year 10000).
    for (customer, extra, fragment) in [
        (r#"{"tier": 1}"#, &[][..], "--customer"),
        ("{}", &["--ttl", "7200"][..], "--ttl"),
        (
            "{}",
            &["--now", "9999-12-31T23:59:59Z"][..],
            "would expire after 9999-12-31T23:59:59Z",
        ),
    ] {
        let mut args = vec!["claim", "--key", "keys/shop-1.key", "--customer", customer];
        args.extend_from_slice(extra);
        run.fails(&args, 1, fragment);
    }
}

/// What `approve` and `sign` refuse before they write anything: terms the evaluator or the
/// project's rules refuse, an approval beyond the key's limit, a name that would hide the terms
/// on the approver's screen; and a version number is never signed twice, whatever
/// `state.json` says.
#[test]
fn approvals_that_would_not_count_and_versions_signed_twice_are_refused() {
    let run = Run::new("refusals");
    for (id, role) in [
        ("root-1", "root"),
        ("release-1", "release"),
        ("marketing-1", "marketing"),
    ] {
        run.ok(&["keygen", "--id", id, "--role", role, "--out", "keys"]);
    }
    run.ok(&[
        "keygen",
        "--id",
        "finance-1",
        "--role",
        "finance",
        "--out",
        "keys",
        "--max-budget",
        "USD:20000",
    ]);
    let keys: Vec<Value> = ["root-1", "release-1", "marketing-1", "finance-1"]
        .iter()
        .map(|k| pub_key(&run, k))
        .collect();
    let root = json!({
        "format": 1, "version": 1, "keys": keys,
        "approvals": {"required": ["marketing"], "rules": [{"role": "finance", "percentAbove": "20"}]}
    });
    run.write("root.json", &root.to_string());
    run.ok(&strs(&root_create(&["root-1"])));
    // A zone the time-zone database does not know is named, not read as UTC.
    run.write(
        "shop/promoseal.toml",
        "bundleId = \"refusals\"\ncurrency = \"USD\"\ntimeZone = \"Mars/Base\"\n",
    );
    run.fails(
        &["lint", "--project", "shop"],
        1,
        "timeZone: unknown time zone `Mars/Base`",
    );
    run.write(
        "shop/promoseal.toml",
        "bundleId = \"refusals\"\ncurrency = \"USD\"\nvalidDays = 30\n",
    );
    let promotion = |id: &str, name: &str, percent: &str, budget: &str| {
        run.write(
            &format!("shop/promotions/{id}.toml"),
            &format!(
                "id = \"{id}\"\nname = \"{name}\"\nitems = {{ categories = [\"shoes\"] }}\nreward = {{ type = \"percentOff\", percent = \"{percent}\" }}\nlimits = {{ budget = \"{budget}\" }}\n"
            ),
        );
    };
    let approve = |id: &str, key: &str| {
        [
            "approve",
            "--project",
            "shop",
            "--promotion",
            id,
            "--key",
            key,
            "--yes",
        ]
        .map(String::from)
    };
    let approvals = || std::fs::read_dir(run.path("shop/approvals")).map_or(0, |d| d.count());

    // Beyond finance-1's budget limit: marketing's approval is written, finance's is refused.
    promotion("big", "Big", "30", "50000");
    run.ok(&strs(&approve("big", "keys/marketing-1.key")));
    run.fails(
        &strs(&approve("big", "keys/finance-1.key")),
        1,
        "promotion `big`: the promotion is beyond the key's authorization limit",
    );
    assert_eq!(approvals(), 1, "nothing written for finance");
    // Terms the evaluator refuses, and a name that hides what follows it, are not signed.
    promotion("over", "Over", "150", "100");
    run.fails(
        &strs(&approve("over", "keys/marketing-1.key")),
        1,
        "percentage `150` is above 100",
    );
    promotion("hidden", "Socks 10%\\u001b[8m", "10", "100");
    run.fails(
        &strs(&approve("hidden", "keys/marketing-1.key")),
        1,
        "holds no control or text-direction characters",
    );
    // A JSON promotion's problem is named by its field, or by line and column when the text
    // is not JSON.
    run.write(
        "shop/promotions/j.json",
        r#"{"id": "j", "name": "J", "reward": {"type": "percentOff", "percent": "10"}, "bogus": 1}"#,
    );
    run.fails(
        &["lint", "--project", "shop"],
        1,
        "j.json`: bogus: unknown field `bogus`",
    );
    run.write("shop/promotions/j.json", r#"{"id": "j", "#);
    run.fails(
        &["lint", "--project", "shop"],
        1,
        "j.json`: EOF while parsing a value at line 1",
    );
    std::fs::remove_file(run.path("shop/promotions/j.json")).unwrap();
    // An empty list, as written, reads as everything: refused as the console's editor does.
    run.write(
        "shop/promotions/empty.toml",
        "id = \"empty\"\nname = \"Empty\"\nitems = { categories = [] }\nreward = { type = \"percentOff\", percent = \"10\" }\nlimits = { budget = \"100\" }\n",
    );
    run.fails(
        &strs(&approve("empty", "keys/marketing-1.key")),
        1,
        "promotion `empty`: items.categories: an empty list selects nothing",
    );
    std::fs::remove_file(run.path("shop/promotions/empty.toml")).unwrap();
    assert_eq!(approvals(), 1);
    // `lint` prints the name with its escape character as an escape.
    std::fs::remove_file(run.path("shop/promotions/over.toml")).unwrap();
    run.write("shop/policy.toml", "");
    let report = run.ok(&["lint", "--project", "shop"]);
    assert!(
        report.contains("Socks 10%\\u001b[8m") && !report.contains('\u{1b}'),
        "{report}"
    );
    for id in ["big", "hidden"] {
        std::fs::remove_file(run.path(&format!("shop/promotions/{id}.toml"))).unwrap();
    }
    std::fs::remove_dir_all(run.path("shop/approvals")).unwrap();

    // Terms that ended already are approved with a note saying so.
    run.write(
        "shop/promotions/past.toml",
        "id = \"past\"\nname = \"Past\"\nendsAt = \"2020-01-01T00:00:00Z\"\nitems = { categories = [\"shoes\"] }\nreward = { type = \"percentOff\", percent = \"10\" }\nlimits = { budget = \"100\" }\n",
    );
    let o = run.cmd(&strs(&approve("past", "keys/marketing-1.key")), None);
    assert!(
        o.status.success() && text(&o.stderr).contains("ended at 2020-01-01T00:00:00Z"),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_file(run.path("shop/promotions/past.toml")).unwrap();
    std::fs::remove_dir_all(run.path("shop/approvals")).unwrap();
    // A version is signed once: a lost `state.json` does not sign version 1 again.
    promotion("shoes", "10% off shoes", "10", "100");
    promotion("hats", "10% off hats", "10", "100");
    let mut both = approve("shoes", "keys/marketing-1.key").to_vec();
    both.extend(["--promotion".to_string(), "hats".to_string()]);
    run.ok(&strs(&both));
    let sign = ["sign", "--project", "shop", "--key", "keys/release-1.key"];
    assert!(run.ok(&sign).contains("edge bundle v1"));
    let v1 = std::fs::read(run.path("shop/published/edge-v1.bundle")).unwrap();
    // A record removed withdraws nothing while its batch travels for the other promotion:
    // said at once.
    std::fs::remove_file(run.path("shop/approvals/hats.marketing-1.json")).unwrap();
    let o = run.cmd(&sign, None);
    assert!(
        text(&o.stderr).contains("`marketing-1`'s approval of `hats` has no record"),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_file(run.path("shop/published/state.json")).unwrap();
    assert!(run.ok(&sign).contains("edge bundle v3"));
    assert_eq!(
        std::fs::read(run.path("shop/published/edge-v1.bundle")).unwrap(),
        v1
    );
    // A second signature goes on the bundle under both of its names.
    let out = run.ok(&[
        "cosign",
        "shop/published/edge.bundle",
        "--key",
        "keys/release-1.key",
    ]);
    assert!(out.contains("edge-v3.bundle too"), "{out}");
    assert_eq!(
        std::fs::read(run.path("shop/published/edge.bundle")).unwrap(),
        std::fs::read(run.path("shop/published/edge-v3.bundle")).unwrap()
    );
    // Signed at a time the hosts would refuse: said at once.
    let o = run.cmd(
        &[
            "sign",
            "--project",
            "shop",
            "--key",
            "keys/release-1.key",
            "--now",
            "2020-01-01T00:00:00Z",
        ],
        None,
    );
    assert!(
        text(&o.stderr).contains("every host would refuse it: expired"),
        "{}",
        text(&o.stderr)
    );
}
