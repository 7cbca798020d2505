//! Verification and parsing never panic on arbitrary bytes: signed bundles and roots, code
//! grants, bare payloads and evaluation inputs. The first byte picks the entry point; the rest
//! is the input. A fixed trust root (from the signing vectors) verifies the envelopes, so the
//! fuzzer can also reach the parser behind a valid-looking header.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{open_bundle, TrustRoot, VerifyOptions};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, parse_input, Bundle};

static ROOT: OnceLock<Option<Arc<TrustRoot>>> = OnceLock::new();

fn root() -> Option<&'static Arc<TrustRoot>> {
    ROOT.get_or_init(|| {
        TrustRoot::from_envelope(include_bytes!("../../tests/vectors/root-v1.env"))
            .ok()
            .map(Arc::new)
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let now = Instant(1_780_272_000); // 2026-06-01
    match selector % 5 {
        0 => {
            if let Some(root) = root() {
                let _ = open_bundle(rest, root, &VerifyOptions::new(Audience::Edge, now));
            }
        }
        1 => {
            if let Ok(root) = TrustRoot::from_envelope(rest) {
                let _ = root.rotate(rest);
            }
        }
        2 => {
            if let (Some(root), Ok(token)) = (root(), std::str::from_utf8(rest)) {
                let _ = root.check_grant(token, now);
            }
        }
        3 => {
            let _ = Bundle::from_json(rest);
        }
        _ => {
            // An input against a small fixed bundle: parsing, validation and evaluation.
            static BUNDLE: OnceLock<Option<Bundle>> = OnceLock::new();
            let bundle = BUNDLE.get_or_init(|| {
                Bundle::from_json(include_bytes!("../../examples/bundle.json")).ok()
            });
            if let (Some(bundle), Ok(input)) = (bundle, parse_input(rest)) {
                let _ = evaluate(bundle, &input);
            }
        }
    }
});
