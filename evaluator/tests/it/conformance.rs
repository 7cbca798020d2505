//! Native answers for the other hosts (wasm in Node and Chromium, the Worker): every corpus case,
//! every signing vector and a code-grant evaluation, each with the exact bytes fed in and the
//! exact bytes that came out, as JSON lines in `target/tmp/conformance/native.jsonl`. The other
//! hosts feed the same bytes and must answer the same bytes (`evaluator-wasm/npm/test/`).

use std::path::{Path, PathBuf};

use promoseal_evaluator::{evaluate, evaluate_json, parse_input, to_json, Error};
use serde_json::{json, Value};

use super::{corpus, vectors};

pub fn native_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance/native.jsonl")
}

fn result(r: Result<String, Error>) -> Value {
    match r {
        Ok(json) => json!({"ok": true, "json": json}),
        Err(e) => json!({"ok": false, "code": e.code(), "message": e.to_string()}),
    }
}

/// The cart every valid signing vector prices: one pair of running shoes.
fn vector_input(grants: &[String], subject: Option<&str>) -> String {
    json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": "RUN-1", "categories": ["shoes"], "unitPrice": "100.00", "quantity": 1},
            {"id": "2", "sku": "SOCK-1", "categories": ["socks"], "unitPrice": "7.50", "quantity": 3}
        ]},
        "context": {"now": vectors::NOW, "grants": grants, "subject": subject}
    })
    .to_string()
}

fn evaluate_text(bundle: &promoseal_evaluator::Bundle, input: &str) -> Result<String, Error> {
    let input = parse_input(input.as_bytes())?;
    to_json(&evaluate(bundle, &input)?)
}

pub fn native_results() -> Vec<Value> {
    let mut out = Vec::new();
    for (path, case) in corpus::cases() {
        let name = path.strip_prefix(corpus::corpus_dir()).unwrap_or(&path);
        let bundle = serde_json::to_string(&case.bundle).unwrap();
        let input = serde_json::to_string(&case.input).unwrap();
        let r = evaluate_json(bundle.as_bytes(), input.as_bytes());
        out.push(json!({"kind": "corpus", "case": name.to_string_lossy(),
                        "bundle": bundle, "input": input, "result": result(r)}));
    }

    let manifest: Value = serde_json::from_slice(&vectors::read("manifest.json")).unwrap();
    for v in manifest["vectors"].as_array().unwrap() {
        let mut line = json!({"kind": "vector", "name": v["name"]});
        match vectors::run(v) {
            Ok(Some(bundle)) => {
                let input = vector_input(&[], None);
                line["verdict"] = json!("valid");
                line["result"] = result(evaluate_text(&bundle, &input));
                line["input"] = json!(input);
            }
            Ok(None) => line["verdict"] = json!("valid"),
            Err(e) => line["verdict"] = json!(e.refusal().code()),
        }
        out.push(line);
    }

    // A code grant from the edge unlocks the storefront's locked promotion.
    let bundle = vectors::run(&json!({
        "root": "root-v1.env", "rotations": [], "bundle": "storefront.env",
        "audience": "storefront", "now": vectors::NOW, "highestAccepted": null, "maxPayload": null
    }))
    .unwrap()
    .unwrap();
    let grant = vectors::key("edge-1").issue_grant(&vectors::vip_grant_claims());
    for subject in ["session-1", "session-2"] {
        let input = vector_input(std::slice::from_ref(&grant), Some(subject));
        out.push(
            json!({"kind": "grant", "bundle": "storefront.env", "root": "root-v1.env",
                        "now": vectors::NOW, "grant": grant, "subject": subject, "input": input,
                        "result": result(evaluate_text(&bundle, &input))}),
        );
    }
    out
}

#[test]
fn native_results_for_other_hosts() {
    let results = native_results();
    let granted = results
        .iter()
        .filter(|r| r["kind"] == "grant")
        .map(|r| {
            let e: Value = serde_json::from_str(r["result"]["json"].as_str().unwrap()).unwrap();
            e["applied"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["promotionId"] == "vip-shoes")
        })
        .collect::<Vec<_>>();
    assert_eq!(
        granted,
        [true, false],
        "the grant unlocks for its subject only"
    );
    let mut text = String::new();
    for r in &results {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    let path = native_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}
