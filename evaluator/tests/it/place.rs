//! The strict reader names a refused text's first problem by the path a tracking deserializer
//! (`serde_path_to_error`) names, without tracking anything while it reads: the path is found
//! afterwards from where serde_json stopped. This checks the two agree, field for field, on
//! mutated corpus documents: every value replaced by every JSON type, keys removed, added and
//! repeated, objects written in reverse order (a refused last field is where placement is
//! hardest), and the texts truncated, cut and spliced byte by byte.

use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::{from_json_strict, BundlePayload, EvaluationInput, JsonError};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::corpus::cases;

/// The reader as it was, tracking the path while it reads.
fn tracked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        JsonError::refused((path != ".").then_some(path), e.inner())
    })?;
    de.end().map_err(|e| JsonError::trailing(&e))?;
    Ok(value)
}

/// Reads `text` both ways; a difference is described.
fn compare<T: DeserializeOwned>(text: &[u8], failures: &mut Vec<String>, refused: &mut usize) {
    let got = from_json_strict::<T>(text).err();
    // An array at the top level is refused before it is read (the reader as it was took it as
    // the struct's fields in order): the top level is named, with serde's wrong-type message.
    if text.trim_ascii_start().starts_with(b"[") {
        *refused += 1;
        let named = got.as_ref().is_some_and(|e| {
            e.path.is_none()
                && !e.syntax
                && e.detail
                    .starts_with("invalid type: sequence, expected struct ")
        });
        if !named && failures.len() < 20 {
            failures.push(format!(
                "{}\n  top-level array: {got:?}",
                String::from_utf8_lossy(text)
            ));
        }
        return;
    }
    let want = tracked::<T>(text).err();
    if want.is_some() {
        *refused += 1;
    }
    if want != got && failures.len() < 20 {
        failures.push(format!(
            "{}\n  tracked: {want:?}\n  placed:  {got:?}",
            String::from_utf8_lossy(text)
        ));
    }
}

/// How a document is written: compact, pretty, or with every object's entries reversed, and
/// with one object's first entry written twice.
#[derive(Clone, Copy)]
struct Style {
    reversed: bool,
    /// The object (by its order of appearance) whose first entry is repeated.
    repeat: Option<usize>,
}

fn write(v: &Value, style: Style, seen: &mut usize, out: &mut String) {
    match v {
        Value::Object(m) => {
            let this = *seen;
            *seen += 1;
            let mut entries: Vec<_> = m.iter().collect();
            if style.reversed {
                entries.reverse();
            }
            if style.repeat == Some(this) {
                if let Some(&first) = entries.first() {
                    entries.insert(0, first);
                }
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(v, style, seen, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, style, seen, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn text(v: &Value, style: Style) -> String {
    let mut out = String::new();
    write(v, style, &mut 0, &mut out);
    out
}

/// Every node of `v`, as a JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            pointers(
                v,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

/// The documents with one thing wrong in each.
fn structural(doc: &Value) -> Vec<Value> {
    let replacements = [
        json!("x"),
        json!(7),
        json!(-1),
        json!(1.5),
        json!(true),
        json!(null),
        json!({}),
        json!([]),
        json!({"type": "percentOff"}),
        json!(["x"]),
        json!("2026-13-01T00:00:00Z"),
        json!("1.005"),
        json!({"x": 1, "y": [2]}),
        json!([1, "x", null]),
        json!("\u{0}\u{e9}"),
        json!(1e40),
        json!(u64::MAX),
        json!(-0.0),
    ];
    let mut nodes = Vec::new();
    pointers(doc, String::new(), &mut nodes);
    let mut out = Vec::new();
    for p in &nodes {
        if p.is_empty() {
            continue;
        }
        for r in &replacements {
            let mut d = doc.clone();
            if let Some(slot) = d.pointer_mut(p) {
                *slot = r.clone();
                out.push(d);
            }
        }
        let mut d = doc.clone();
        let (parent, last) = p.rsplit_once('/').unwrap_or_default();
        match d.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.remove(&last.replace("~1", "/").replace("~0", "~"));
                out.push(d);
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>() {
                    a.remove(i);
                    out.push(d);
                }
            }
            _ => {}
        }
    }
    for p in nodes.iter() {
        let mut d = doc.clone();
        if let Some(Value::Object(m)) = d.pointer_mut(p) {
            m.insert("zz".into(), json!(1));
            out.push(d);
        }
    }
    out
}

fn objects(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(objects).sum::<usize>(),
        Value::Array(a) => a.iter().map(objects).sum(),
        _ => 0,
    }
}

/// The text cut, truncated and spliced at every `step`-th byte.
fn bytewise(text: &str, step: usize) -> Vec<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in (0..b.len()).step_by(step) {
        out.push(b[..i].to_vec());
        let mut cut = b.to_vec();
        cut.remove(i);
        out.push(cut);
        for ins in [
            &b","[..],
            b"}",
            b"]",
            b"\"",
            b"x",
            b"1",
            b" ",
            b"{",
            b"[",
            b":",
            b"\\",
            b"-",
        ] {
            let mut spliced = b.to_vec();
            spliced.splice(i..i, ins.iter().copied());
            out.push(spliced);
        }
    }
    out
}

fn run<T: DeserializeOwned>(docs: &[Value], step: usize) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut refused = 0;
    for doc in docs {
        let plain = Style {
            reversed: false,
            repeat: None,
        };
        for d in structural(doc) {
            for reversed in [false, true] {
                let t = text(&d, Style { reversed, ..plain });
                compare::<T>(t.as_bytes(), &mut failures, &mut refused);
            }
            let pretty = serde_json::to_string_pretty(&d).unwrap_or_default();
            compare::<T>(pretty.as_bytes(), &mut failures, &mut refused);
        }
        for o in 0..objects(doc) {
            for reversed in [false, true] {
                let t = text(
                    doc,
                    Style {
                        reversed,
                        repeat: Some(o),
                    },
                );
                compare::<T>(t.as_bytes(), &mut failures, &mut refused);
            }
        }
        let compact = text(doc, plain);
        let pretty = serde_json::to_string_pretty(doc).unwrap_or_default();
        for t in bytewise(&compact, step)
            .iter()
            .chain(&bytewise(&pretty, step * 3))
        {
            compare::<T>(t, &mut failures, &mut refused);
        }
    }
    (refused, failures)
}

#[test]
fn error_paths_are_the_tracking_readers() {
    let all = cases();
    // A spread of the corpus: every 12th case, so each kind of promotion and input appears.
    let sample: Vec<_> = all.iter().step_by(12).map(|(_, c)| c).collect();
    let bundles: Vec<Value> = sample.iter().map(|c| c.bundle.clone()).collect();
    let inputs: Vec<Value> = sample.iter().map(|c| c.input.clone()).collect();
    let promotions: Vec<Value> = bundles
        .iter()
        .filter_map(|b| b["promotions"].get(0).cloned())
        .collect();

    let mut report = Vec::new();
    let mut refused = 0;
    for (name, (n, failures)) in [
        ("bundle", run::<BundlePayload>(&bundles, 7)),
        ("input", run::<EvaluationInput>(&inputs, 3)),
        ("promotion", run::<PromotionSpec>(&promotions, 5)),
    ] {
        refused += n;
        report.extend(failures.into_iter().map(|f| format!("{name}: {f}")));
    }
    eprintln!("{refused} refused texts compared");
    assert!(refused > 10_000, "only {refused} refused texts compared");
    assert!(
        report.is_empty(),
        "{} differences:\n{}",
        report.len(),
        report.join("\n")
    );
}
