//! Bad input gets a clear error naming what is wrong, never a panic.

use promoseal_evaluator::{evaluate_json, Error};
use proptest::prelude::*;
use serde_json::{json, Value};

fn bundle() -> Value {
    json!({
        "format": 1, "bundleId": "bad-input", "audience": "edge", "version": 1,
        "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z", "currency": "USD",
        "promotions": [ { "id": "TEN", "name": "10% off", "reward": { "type": "percentOff", "percent": "10" } } ]
    })
}

fn input_with_line(line: &str) -> String {
    format!(
        r#"{{"cart":{{"currency":"USD","lines":[{line}]}},"context":{{"now":"2026-06-01T12:00:00Z"}}}}"#
    )
}

fn err(bundle: &[u8], input: &[u8]) -> Error {
    match evaluate_json(bundle, input) {
        Ok(json) => panic!("accepted: {json}"),
        Err(e) => e,
    }
}

fn input_err(input: &str) -> String {
    let e = err(&serde_json::to_vec(&bundle()).unwrap(), input.as_bytes());
    assert_eq!(e.code(), "invalidInput", "{e}");
    e.to_string()
}

fn bundle_err(bundle: &str) -> String {
    let e = err(
        bundle.as_bytes(),
        input_with_line(r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1}"#).as_bytes(),
    );
    assert_eq!(e.code(), "invalidBundle", "{e}");
    e.to_string()
}

#[test]
fn input_errors_name_the_field() {
    let cases = [
        (r#"{"id":"a","sku":"A","unitPrice":19.99,"quantity":1}"#,
         "input: cart.lines[0].unitPrice: invalid type: floating point `19.99`, expected a decimal string such as \"19.99\""),
        (r#"{"id":"a","sku":"A","unitPrice":"-1.00","quantity":1}"#,
         "input: cart.lines[0].unitPrice: `-1.00` is negative"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1,"colour":"red"}"#,
         "input: cart.lines[0].colour: unknown field `colour`, expected one of `id`, `sku`, `product`, `categories`, `brand`, `tags`, `unitPrice`, `quantity`, `taxRate`, `onSale`, `stockAvailable`, `unitCost`, `floorUnitPrice`"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1,"quantity":2}"#,
         "input: cart.lines[0]: duplicate field `quantity`"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":-1}"#,
         "input: cart.lines[0].quantity: invalid value: integer `-1`, expected u64"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1.5}"#,
         "input: cart.lines[0].quantity: invalid type: floating point `1.5`, expected u64"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":0}"#,
         "input: cart.lines[0].quantity: `0` is not between 1 and 1000000"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":50000000}"#,
         "input: cart.lines[0].quantity: `50000000` is not between 1 and 1000000"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.001","quantity":1}"#,
         "input: cart.lines[0].unitPrice: `1.001` has more decimal places than `USD` allows (2)"),
        (r#"{"id":"a","sku":"A","unitPrice":"99999999999999999999.99","quantity":1}"#,
         "input: cart.lines[0].unitPrice: amount `99999999999999999999.99` is too large"),
        (r#"{"id":"a","sku":"A","unitPrice":"1e3","quantity":1}"#,
         "input: cart.lines[0].unitPrice: `1e3` is not a plain decimal string such as \"19.99\""),
        (r#"{"id":"a","sku":"A","unitPrice":"9000000000000.00","quantity":1000}"#,
         "input: cart.lines[0]: unit price times quantity is too large"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1,"taxRate":"120"}"#,
         "input: cart.lines[0].taxRate: percentage `120` is above 100"),
        (r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1},{"id":"a","sku":"B","unitPrice":"1.00","quantity":1}"#,
         "input: cart.lines[1].id: duplicate line id `a`"),
    ];
    for (line, expected) in cases {
        assert_eq!(input_err(&input_with_line(line)), expected, "line {line}");
    }
}

#[test]
fn malformed_documents_are_refused() {
    for (input, fragment) in [
        ("", "EOF while parsing"),
        ("{", "EOF while parsing"),
        // serde's array form of a struct (its fields in declaration order) is not JSON we read.
        (
            "[]",
            "input: $: invalid type: sequence, expected struct EvaluationInput",
        ),
        (
            r#"[{"currency":"USD","lines":[]},null,{"now":"2026-06-01T12:00:00Z"}]"#,
            "input: $: invalid type: sequence, expected struct EvaluationInput",
        ),
        ("{\"cart\":{}}", "missing field `currency`"),
        ("{} trailing", "input: $: "),
        ("\u{0}\u{1}", "expected value"),
    ] {
        let msg = input_err(input);
        assert!(msg.contains(fragment), "{input:?}: {msg}");
    }
    // Deep nesting is refused without exhausting the stack.
    let deep = format!(
        "{{\"cart\":{{\"currency\":\"USD\",\"lines\":[{{\"id\":{}",
        "[".repeat(100_000)
    );
    assert_eq!(
        input_err(&deep),
        "input: cart.lines[0].id: invalid type: sequence, expected a string"
    );
    let e = err(&serde_json::to_vec(&bundle()).unwrap(), &[0xff, 0xfe, 0x00]);
    assert_eq!(e.code(), "invalidInput");
}

#[test]
fn messages_quote_at_most_a_bounded_part_of_a_huge_value() {
    let huge = "a".repeat(5_000_000);
    for input in [
        format!("\"{huge}\""),
        format!(
            r#"{{"cart":{{"currency":"{huge}","lines":[]}},"context":{{"now":"2026-06-01T12:00:00Z"}}}}"#
        ),
    ] {
        let msg = input_err(&input);
        assert!(msg.len() < 700, "{} bytes: {}", msg.len(), &msg[..200]);
        assert!(msg.contains("bytes in all)"), "{msg}");
    }
}

#[test]
fn unknown_currency_and_mismatch() {
    let input =
        r#"{"cart":{"currency":"XXX","lines":[]},"context":{"now":"2026-06-01T12:00:00Z"}}"#;
    assert_eq!(
        input_err(input),
        "input: cart.currency: unknown currency `XXX`"
    );
    let input =
        r#"{"cart":{"currency":"EUR","lines":[]},"context":{"now":"2026-06-01T12:00:00Z"}}"#;
    let e = err(&serde_json::to_vec(&bundle()).unwrap(), input.as_bytes());
    assert_eq!(e.code(), "evaluationFailed");
    assert_eq!(
        e.to_string(),
        "cart currency `EUR` does not match bundle currency `USD`"
    );
}

#[test]
fn oversized_cart_is_refused_not_evaluated() {
    let lines: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"id":"l{i}","sku":"S{i}","unitPrice":"1.00","quantity":1}}"#))
        .collect();
    let msg = input_err(&input_with_line(&lines.join(",")));
    assert_eq!(
        msg,
        "input: cart.lines: 10000 lines is more than the 1000 a cart may have"
    );
}

#[test]
fn bundle_errors_name_the_field() {
    let mut b = bundle();
    b["promotions"][0]["reward"]["percent"] = json!("150");
    assert_eq!(
        bundle_err(&b.to_string()),
        "bundle: promotions[0].reward.percent: percentage `150` is above 100"
    );
    let mut b = bundle();
    b["promotions"][0]["reward"]["percent"] = json!(10);
    assert!(bundle_err(&b.to_string())
        .contains("invalid type: integer `10`, expected a decimal string"));
    let mut b = bundle();
    b["promotions"] = json!([b["promotions"][0], b["promotions"][0]]);
    assert_eq!(
        bundle_err(&b.to_string()),
        "bundle: promotions[1].id: duplicate promotion id `TEN`"
    );
    let mut b = bundle();
    b["currency"] = json!("ABC");
    assert_eq!(
        bundle_err(&b.to_string()),
        "bundle: currency: unknown currency `ABC`"
    );
    let mut b = bundle();
    b["promotions"][0]["reward"] = json!({"type": "percentOff", "percent": "10", "extra": 1});
    assert!(bundle_err(&b.to_string()).contains("unknown field `extra`"));
    let mut b = bundle();
    b["promotions"][0]["reward"] = json!({"type": "teleport"});
    assert!(bundle_err(&b.to_string()).contains("unknown variant `teleport`"));
    let mut b = bundle();
    b["format"] = json!(2);
    assert_eq!(
        bundle_err(&b.to_string()),
        "bundle: format: unsupported format `2` (this evaluator reads 1)"
    );
    let mut b = bundle();
    b["expiresAt"] = json!("2027-02-30T00:00:00Z");
    assert!(
        bundle_err(&b.to_string()).contains("`2027-02-30T00:00:00Z` is not an RFC 3339 instant")
    );
    let dup = r#"{"format":1,"format":1}"#;
    assert!(bundle_err(dup).contains("duplicate field `format`"));
}

#[test]
fn expired_bundle_is_refused() {
    let input = input_with_line(r#"{"id":"a","sku":"A","unitPrice":"1.00","quantity":1}"#)
        .replace("2026-06-01T12:00:00Z", "2027-01-01T00:00:00Z");
    let e = err(&serde_json::to_vec(&bundle()).unwrap(), input.as_bytes());
    assert_eq!(
        e.to_string(),
        "bundle `bad-input` expired at 2027-01-01T00:00:00Z, evaluation time is 2027-01-01T00:00:00Z"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Arbitrary bytes never panic: they are refused with an error.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let b = serde_json::to_vec(&bundle()).unwrap();
        prop_assert!(evaluate_json(&b, &bytes).is_err());
        prop_assert!(evaluate_json(&bytes, &b).is_err());
    }

    /// Valid JSON of the wrong shape, with absurd numbers: an error or an answer, never a panic.
    #[test]
    fn absurd_values_never_panic(price in "[0-9]{1,25}(\\.[0-9]{1,4})?", qty in any::<u64>(), pct in "[0-9]{1,4}(\\.[0-9]{1,8})?") {
        let mut b = bundle();
        b["promotions"][0]["reward"]["percent"] = json!(pct);
        b["promotions"][0]["maxDiscount"] = json!(price.clone());
        let input = input_with_line(&format!(r#"{{"id":"a","sku":"A","unitPrice":"{price}","quantity":{qty}}}"#));
        let _ = evaluate_json(&serde_json::to_vec(&b).unwrap(), input.as_bytes());
    }
}
