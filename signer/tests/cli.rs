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
        format!(
            "promoseal: error: `{}`: input: cart.lines[0].unitPrice: invalid type: floating point `12.5`, expected a decimal string such as \"19.99\"",
            cart.display()
        )
    );
    std::fs::remove_dir_all(&dir).ok();

    let out = eval("examples/nope.json", "examples/cart.json", &[]);
    assert_fails_with(&out, "cannot read `examples/nope.json`");
    let out = eval_example(&["--now", "2028-01-01T00:00:00Z"]);
    assert_fails_with(
        &out,
        "`examples/cart.json` against `examples/bundle.json`: bundle `demo-shop` expired at \
         2027-11-01T00:00:00Z",
    );
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

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    // A full disk: the error is named, exit 1.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_promoseal"))
        .args(["eval", "--unsigned", "--bundle", "examples/bundle.json"])
        .args(["--cart", "examples/cart.json"])
        .current_dir(root())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("writing to standard output"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // A reader that went away: nothing on stderr, no panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_promoseal"))
        .args(["eval", "--unsigned", "--bundle", "examples/bundle.json"])
        .args(["--cart", "examples/cart.json", "--pretty"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_ne!(o.status.code(), Some(101));
}

#[test]
fn keygen_and_code_sets_refuse_names_that_are_paths_and_limits_that_are_not_limits() {
    let dir = std::env::temp_dir().join(format!("promoseal-cli-names-{}", std::process::id()));
    let out = dir.join("keys");
    let out = out.to_str().unwrap();
    for (args, fragment) in [
        (
            vec!["--id", "../evil", "--role", "root"],
            "a key id is 1 to 64",
        ),
        (vec!["--id", "", "--role", "root"], "a key id is 1 to 64"),
        (vec!["--id", "a/b", "--role", "root"], "a key id is 1 to 64"),
        (vec!["--id", "a", "--role", ""], "a role is a name"),
        (
            vec!["--id", "a", "--role", "Release"],
            "a role is lower-case",
        ),
        (
            vec!["--id", "a", "--role", "relase"],
            "did you mean `release`?",
        ),
        (vec!["--id", "a", "--role", "rot"], "did you mean `root`?"),
        (
            vec!["--id", "a", "--role", "m", "--max-percent", "150"],
            "at most 100",
        ),
        (
            vec!["--id", "a", "--role", "m", "--max-amount", "usd:5"],
            "not a currency code",
        ),
        (
            vec![
                "--id",
                "a",
                "--role",
                "m",
                "--max-amount",
                "USD:5",
                "--max-amount",
                "USD:6",
            ],
            "`USD` is given twice",
        ),
    ] {
        let mut all = vec!["keygen", "--out", out];
        all.extend(args);
        assert_fails_with(&promoseal(&all), fragment);
    }
    assert!(!dir.join("evil.key").exists() && !dir.join("keys").exists());
    let secret = dir.join("codes.secret");
    std::fs::create_dir_all(&dir).unwrap();
    let o = promoseal(&["codes", "secret", "--out", secret.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let import = |set: &str, code: &str| {
        promoseal(&[
            "codes",
            "import",
            "--project",
            dir.to_str().unwrap(),
            "--set",
            set,
            "--code",
            code,
            "--secret",
            secret.to_str().unwrap(),
        ])
    };
    for set in ["../x", "", "UPPER"] {
        assert_fails_with(&import(set, "A1"), "a code set id is 1 to 64");
    }
    let o = import("ok", "");
    assert_fails_with(&o, "a code is never empty");
    // A code a shopper could not type as imported, given on the command line or in a file.
    assert_fails_with(&import("ok", "Ünï"), "outside ASCII (U+00DC)");
    let header_only = dir.join("header.csv");
    std::fs::write(&header_only, "code\nCAFÉ-1\n").unwrap();
    let o = promoseal(&[
        "codes",
        "import",
        "--project",
        dir.to_str().unwrap(),
        "--set",
        "ok",
        "--file",
        header_only.to_str().unwrap(),
        "--secret",
        secret.to_str().unwrap(),
    ]);
    assert_fails_with(
        &o,
        "no codes found (row 2: code contains a character outside ASCII",
    );
    assert!(!dir.join("x.json").exists() && !dir.join("codes").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_refuses_a_samples_folder_that_does_not_exist() {
    let o = promoseal(&[
        "lint",
        "--project",
        "examples/shop",
        "--samples",
        "/nonexistent-samples",
    ]);
    assert_fails_with(&o, "--samples `/nonexistent-samples`: no such folder");
}
