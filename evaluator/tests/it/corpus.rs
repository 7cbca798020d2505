//! Runs every case of the shared conformance corpus (`tests/corpus/**/*.json`).
//!
//! A case is `{description, bundle, input, expected | expectedError}`. `expected` is matched as
//! a pattern against the evaluation JSON: every key it names must be present with a matching
//! value, and arrays must match element by element with the same length. So a case states the
//! hand-checked figures it is about and nothing incidental. `expectedError` names the error
//! `code` and a fragment the message must contain.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Case {
    pub description: String,
    pub bundle: Value,
    pub input: Value,
    #[serde(default)]
    pub expected: Option<Value>,
    #[serde(default)]
    pub expected_error: Option<ExpectedError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    pub code: String,
    pub contains: String,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

pub fn cases() -> Vec<(PathBuf, Case)> {
    let mut files = Vec::new();
    collect(&corpus_dir(), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let case: Case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not a corpus case: {e}", p.display()));
            (p, case)
        })
        .collect()
}

/// Where `actual` departs from the `pattern`, as `path: message` lines.
pub fn mismatches(pattern: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (pattern, actual) {
        (Value::Object(p), Value::Object(a)) => {
            for (k, pv) in p {
                match a.get(k) {
                    Some(av) => mismatches(pv, av, &format!("{path}.{k}"), out),
                    None if pv.is_null() => {}
                    None => out.push(format!("{path}.{k}: missing, expected {pv}")),
                }
            }
        }
        (Value::Array(p), Value::Array(a)) => {
            if p.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} elements, got {}: {}",
                    p.len(),
                    a.len(),
                    serde_json::to_string(actual).unwrap()
                ));
                return;
            }
            for (i, (pv, av)) in p.iter().zip(a).enumerate() {
                mismatches(pv, av, &format!("{path}[{i}]"), out);
            }
        }
        (p, a) if p == a => {}
        (p, a) => out.push(format!("{path}: expected {p}, got {a}")),
    }
}

/// Runs one case; `Err` describes every way it failed.
pub fn run_case(case: &Case) -> Result<(), String> {
    let bundle = serde_json::to_vec(&case.bundle).unwrap();
    let input = serde_json::to_vec(&case.input).unwrap();
    let result = promoseal_evaluator::evaluate_json(&bundle, &input);
    match (&case.expected, &case.expected_error, result) {
        (Some(expected), None, Ok(json)) => {
            let actual: Value = serde_json::from_str(&json).unwrap();
            let mut out = Vec::new();
            mismatches(expected, &actual, "$", &mut out);
            if out.is_empty() {
                Ok(())
            } else {
                Err(format!("{}\n  actual: {json}", out.join("\n  ")))
            }
        }
        (None, Some(e), Err(err)) => {
            let msg = err.to_string();
            if err.code() == e.code && msg.contains(&e.contains) {
                Ok(())
            } else {
                Err(format!(
                    "expected error {} containing {:?}, got {}: {msg}",
                    e.code,
                    e.contains,
                    err.code()
                ))
            }
        }
        (Some(_), None, Err(err)) => Err(format!("unexpected error {}: {err}", err.code())),
        (None, Some(_), Ok(json)) => Err(format!("expected an error, got {json}")),
        _ => Err("a case needs exactly one of `expected` and `expectedError`".into()),
    }
}

#[test]
fn corpus() {
    let cases = cases();
    let mut failures = Vec::new();
    for (path, case) in &cases {
        if let Err(e) = run_case(case) {
            let name = path.strip_prefix(corpus_dir()).unwrap_or(path).display();
            failures.push(format!("{name} ({}):\n  {e}", case.description));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        cases.len() >= 80,
        "the corpus has only {} cases",
        cases.len()
    );
}

#[test]
fn pattern_matching_is_strict() {
    let actual: Value = serde_json::json!({"a": "1.00", "b": [1, 2], "c": {"d": true}});
    let mut out = Vec::new();
    mismatches(
        &serde_json::json!({"a": "1.00", "b": [1, 2]}),
        &actual,
        "$",
        &mut out,
    );
    assert!(out.is_empty());
    for bad in [
        serde_json::json!({"a": "1.0"}),
        serde_json::json!({"b": [1]}),
        serde_json::json!({"c": {"d": false}}),
        serde_json::json!({"z": 1}),
    ] {
        let mut out = Vec::new();
        mismatches(&bad, &actual, "$", &mut out);
        assert!(!out.is_empty(), "{bad} matched");
    }
}
