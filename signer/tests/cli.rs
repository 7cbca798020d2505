//! The `promoseal` binary, run as a release engineer runs it.

// Test code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn promoseal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promoseal"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `promoseal eval --unsigned` on the given bundle and cart, with more arguments.
fn eval(bundle: &str, cart: &str, more: &[&str]) -> Output {
    let mut args = vec!["eval", "--unsigned", "--bundle", bundle, "--cart", cart];
    args.extend_from_slice(more);
    promoseal(&args)
}

fn eval_example(more: &[&str]) -> Output {
    eval("examples/bundle.json", "examples/cart.json", more)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The command failed with exit code 1, nothing on stdout, and `fragment` on stderr.
fn assert_fails_with(o: &Output, fragment: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    assert!(o.stdout.is_empty());
    assert!(stderr(o).contains(fragment), "{}", stderr(o));
}

#[test]
fn eval_prints_the_evaluation() {
    let v = json(&eval_example(&[]));
    assert_eq!(v["bundleId"], "demo-shop");
    assert_eq!(v["subtotal"], "147.50");
    // Every promotion is accounted for: applied or with a reason.
    let applied = v["applied"].as_array().unwrap().len();
    let not_applied = v["notApplied"].as_array().unwrap().len();
    assert_eq!(applied + not_applied, 5);
}

#[test]
fn now_overrides_the_input_time() {
    let v = json(&eval_example(&["--now", "2026-12-01T09:30:00+01:00"]));
    assert_eq!(v["evaluatedAt"], "2026-12-01T08:30:00Z");
}

#[test]
fn bare_payloads_need_the_explicit_flag() {
    let out = promoseal(&[
        "eval",
        "--bundle",
        "examples/bundle.json",
        "--cart",
        "examples/cart.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--root"), "{}", stderr(&out));
}

#[test]
fn bad_input_is_a_clear_error_and_a_failure_exit() {
    let dir = std::env::temp_dir().join(format!("promoseal-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cart = dir.join("cart.json");
    std::fs::write(
        &cart,
        r#"{"cart":{"currency":"USD","lines":[{"id":"1","sku":"A","unitPrice":12.5,"quantity":1}]},"context":{"now":"2026-11-21T15:00:00Z"}}"#,
    )
    .unwrap();
    let out = eval("examples/bundle.json", cart.to_str().unwrap(), &[]);
    assert_fails_with(&out, "");
    assert_eq!(
        stderr(&out).trim(),
        "promoseal: error: input: cart.lines[0].unitPrice: invalid type: floating point `12.5`, expected a decimal string such as \"19.99\""
    );
    std::fs::remove_dir_all(&dir).ok();

    let out = eval("examples/nope.json", "examples/cart.json", &[]);
    assert_fails_with(&out, "cannot read `examples/nope.json`");
    let out = eval_example(&["--now", "2028-01-01T00:00:00Z"]);
    assert_fails_with(&out, "bundle `demo-shop` expired at 2027-11-01T00:00:00Z");
    let out = eval_example(&["--now", "tomorrow"]);
    assert_fails_with(&out, "--now: `tomorrow` is not an RFC 3339 instant");
}

/// `promoseal windows` over the weekend Paris moves to summer time.
fn windows(zone: &str) -> Output {
    promoseal(&[
        "windows",
        "--zone",
        zone,
        "--days",
        "sat,sun",
        "--from",
        "09:00",
        "--to",
        "17:00",
        "--start",
        "2026-03-27T00:00:00Z",
        "--until",
        "2026-03-30T00:00:00Z",
    ])
}

#[test]
fn windows_expand_a_recurring_window_into_utc_intervals() {
    assert_eq!(
        json(&windows("Europe/Paris")),
        serde_json::json!([
            { "start": "2026-03-28T08:00:00Z", "end": "2026-03-28T16:00:00Z" },
            { "start": "2026-03-29T07:00:00Z", "end": "2026-03-29T15:00:00Z" }
        ])
    );
    assert_fails_with(&windows("Nowhere/Town"), "unknown time zone `Nowhere/Town`");
}
