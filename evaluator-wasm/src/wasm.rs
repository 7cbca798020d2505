//! The exports (wasm32 only): each decodes its arguments, calls the core, and encodes an
//! [`Outcome`]. Evaluation goes through the same [`promoseal_evaluator::evaluate`] and the same
//! JSON serializer as every native host, so `evaluateJson` is byte-identical to native;
//! `evaluate` returns that JSON as an object.

use std::sync::Arc;

use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use promoseal_evaluator::codes::{decode_hex, encode_hex};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{open_bundle, Accepted, TrustRoot, VerifyError, VerifyOptions};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{parse_input, to_json, Bundle, Error, Evaluation};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{
    AcceptedVersion, EvaluateOptions, Failure, GrantOptions, OpenOptions, Outcome, RootInfo,
    EVALUATE_OPTIONS, GRANT_OPTIONS, OPEN_OPTIONS,
};

// The declarations of every type the API takes and answers, generated from the Rust types
// (`npm/types.d.ts`, checked by the test `declarations::match_the_rust_types`).
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("../npm/types.d.ts");

// ... and those of `review` and `windows` (`npm/authoring.d.ts`), in the package built with
// `authoring`.
#[cfg(feature = "authoring")]
#[wasm_bindgen(typescript_custom_section)]
const AUTHORING_TYPES: &'static str = include_str!("../npm/authoring.d.ts");

// Optional arguments: typed in the declarations, read as plain values (no instance checks).
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "OpenOptions")]
    pub type OpenOptionsArg;
    #[wasm_bindgen(typescript_type = "GrantCheck")]
    pub type GrantCheckArg;
    #[wasm_bindgen(typescript_type = "Bytes[]")]
    pub type RotationsArg;
    #[wasm_bindgen(typescript_type = "EvaluateOptions")]
    pub type EvaluateOptionsArg;
}

fn optional<T: Into<JsValue>>(v: Option<T>) -> JsValue {
    v.map_or(JsValue::UNDEFINED, Into::into)
}

/// A value handed to JavaScript as it is (an `Engine`, a parsed evaluation, a string).
struct Js(JsValue);

impl Serialize for Js {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, serializer)
    }
}

/// The answer of every call: `{ok: true, value}` or `{ok: false, error}` ([`Outcome`]).
fn outcome<T: Into<JsValue>>(r: Result<T, Failure>) -> JsValue {
    let answer = Outcome::from(r.map(|v| Js(v.into())));
    // Booleans, strings and a value passed through as it is: this cannot fail.
    answer
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .unwrap_or(JsValue::UNDEFINED)
}

/// Serializes a value as a plain JSON-compatible object (maps as objects, no `Map`).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, Failure> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Failure::argument(format!("result: {e}")))
}

/// Bytes from a `Uint8Array` (a Node `Buffer` is one), an `ArrayBuffer` or a string (UTF-8).
fn bytes(v: &JsValue, what: &str) -> Result<Vec<u8>, Failure> {
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(b).to_vec());
    }
    Err(Failure::argument(format!(
        "{what}: expected a Uint8Array, an ArrayBuffer or a string"
    )))
}

/// An evaluation input as JSON bytes: a JSON string or bytes as given, an object through
/// `JSON.stringify`, so every host parses the very same text with the same strict parser.
fn input_json(v: &JsValue) -> Result<Vec<u8>, Failure> {
    if v.is_object()
        && !v.is_instance_of::<Uint8Array>()
        && !v.is_instance_of::<js_sys::ArrayBuffer>()
    {
        let text = JSON::stringify(v)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| Failure::argument("input: not serializable as JSON".into()))?;
        return Ok(text.into_bytes());
    }
    bytes(v, "input")
}

/// Options objects go through serde, after a check that names any key it does not know (the
/// serde-wasm-bindgen deserializer reads only the keys a struct has, so it cannot refuse one).
/// Whether a value can be read without running code that throws: a getter, a `toJSON` or a
/// Proxy trap that throws would otherwise unwind through the call instead of being answered.
/// `JSON.stringify` reads every property once, catching what throws; the value is then read
/// as before.
#[inline(never)]
fn readable(v: &JsValue, what: &str) -> Result<(), Failure> {
    JSON::stringify(v).map(|_| ()).map_err(|_| {
        Failure::argument(format!(
            "{what}: cannot be read (a getter, toJSON or Proxy trap threw, or it holds a BigInt)"
        ))
    })
}

fn read_options<T: for<'de> Deserialize<'de> + Default>(
    v: &JsValue,
    what: &str,
    keys: &[&str],
) -> Result<T, Failure> {
    if v.is_undefined() || v.is_null() {
        return Ok(T::default());
    }
    readable(v, what)?;
    let object = v
        .dyn_ref::<Object>()
        .filter(|_| !v.is_function() && !Array::is_array(v))
        .ok_or_else(|| Failure::argument(format!("{what}: expected an object")))?;
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !keys.contains(&key.as_str()) {
            let expected = keys.join("`, `");
            return Err(Failure::argument(format!(
                "{what}: unknown field `{key}`, expected one of `{expected}`"
            )));
        }
    }
    serde_wasm_bindgen::from_value(v.clone()).map_err(|e| {
        let message = e.to_string();
        let message = message.strip_prefix("Error: ").unwrap_or(&message);
        Failure::argument(format!("{what}: {message}"))
    })
}

fn clock() -> Instant {
    // Milliseconds since the epoch, as the host's clock gives them; fractions truncated.
    Instant((js_sys::Date::now() / 1000.0).floor() as i64)
}

/// The package version (the workspace's).
#[wasm_bindgen(js_name = evaluatorVersion)]
pub fn evaluator_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Verifies a trust root and, in order, its rotations: the root a host would trust.
#[wasm_bindgen(js_name = inspectRoot, unchecked_return_type = "Outcome<RootInfo>")]
pub fn inspect_root(
    #[wasm_bindgen(unchecked_param_type = "Bytes")] root: JsValue,
    rotations: Option<RotationsArg>,
) -> JsValue {
    let rotations = optional(rotations);
    outcome(root_from(&root, &rotations).and_then(|r| {
        to_js(&RootInfo {
            version: r.version(),
            digest: r.digest_hex(),
            expires_at: r.payload().expires_at,
        })
    }))
}

/// Reviews a draft promotion (the console's page, with the `authoring` feature): its errors by
/// field, its plain words, approval digest and exposure, who must approve it, its lint report
/// and the promotions it meets among the shop's, and the payload to price carts with
/// (`Engine.openUnverified`). The input is an object, a JSON string or UTF-8 bytes.
#[cfg(feature = "authoring")]
#[wasm_bindgen(unchecked_return_type = "Outcome<Review>")]
pub fn review(
    #[wasm_bindgen(unchecked_param_type = "ReviewInput | string | Uint8Array")] input: JsValue,
) -> JsValue {
    outcome(
        input_json(&input)
            .and_then(|json| promoseal_authoring::review_json(&json).map_err(Failure::from))
            .and_then(|review| to_js(&review)),
    )
}

/// Expands a recurring window of a named time zone into the UTC intervals a promotion carries
/// (the console's page, with the `authoring` feature): the expansion `promoseal windows` runs,
/// following daylight-saving changes. The input is an object, a JSON string or UTF-8 bytes.
#[cfg(feature = "authoring")]
#[wasm_bindgen(unchecked_return_type = "Outcome<Interval[]>")]
pub fn windows(
    #[wasm_bindgen(unchecked_param_type = "WindowsInput | string | Uint8Array")] input: JsValue,
) -> JsValue {
    outcome(
        input_json(&input)
            .and_then(|json| promoseal_authoring::windows_json(&json).map_err(Failure::from))
            .and_then(|intervals| to_js(&intervals)),
    )
}

/// The root an approver's key signs to approve a batch of promotions at once (the console's
/// page, with the `authoring` feature): the Merkle root of their approval digests (lowercase
/// hex, any order), as `promoseal approve` signs it (`docs/signing.md` §4).
#[cfg(feature = "authoring")]
#[wasm_bindgen(js_name = approvalRoot, unchecked_return_type = "Outcome<string>")]
pub fn approval_root(
    #[wasm_bindgen(unchecked_param_type = "string[]")] digests: JsValue,
) -> JsValue {
    outcome(
        serde_wasm_bindgen::from_value::<Vec<String>>(digests)
            .map_err(|e| Failure::argument(format!("digests: {e}")))
            .and_then(|d| {
                promoseal_evaluator::seal::approval_root_hex(&d).map_err(Failure::argument)
            }),
    )
}

/// A verified, compiled bundle: verify once, evaluate many carts.
#[wasm_bindgen]
pub struct Engine {
    bundle: Bundle,
}

fn root_from(root: &JsValue, rotations: &JsValue) -> Result<TrustRoot, Failure> {
    let invalid = |e: VerifyError| Failure::verify(&e, "invalidTrustRoot");
    let mut trust = TrustRoot::from_envelope(&bytes(root, "root")?).map_err(invalid)?;
    if rotations.is_undefined() || rotations.is_null() {
        return Ok(trust);
    }
    readable(rotations, "options.rotations")?;
    let list = rotations
        .dyn_ref::<Array>()
        .ok_or_else(|| Failure::argument("options.rotations: expected an array".into()))?;
    for (i, r) in list.iter().enumerate() {
        let next = bytes(&r, &format!("options.rotations[{i}]"))?;
        trust = trust.rotate(&next).map_err(invalid)?;
    }
    Ok(trust)
}

#[wasm_bindgen]
impl Engine {
    /// Verifies a signed bundle against a trust root (signatures over the exact bytes first,
    /// then everything else) and compiles it.
    #[wasm_bindgen(unchecked_return_type = "Outcome<Engine>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bundle: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] root: JsValue,
        options: Option<OpenOptionsArg>,
    ) -> JsValue {
        let options = optional(options);
        outcome(Engine::open_inner(&bundle, &root, &options))
    }

    fn open_inner(bundle: &JsValue, root: &JsValue, options: &JsValue) -> Result<Engine, Failure> {
        let bundle = bytes(bundle, "bundle")?;
        let o: OpenOptions = read_options(options, "options", OPEN_OPTIONS)?;
        let rotations = if options.is_object() {
            Reflect::get(options, &JsValue::from_str("rotations")).unwrap_or(JsValue::UNDEFINED)
        } else {
            JsValue::UNDEFINED
        };
        let root = Arc::new(root_from(root, &rotations)?);
        let mut verify = VerifyOptions::new(
            o.audience.unwrap_or(Audience::Storefront),
            o.now.unwrap_or_else(clock),
        );
        if let Some(a) = o.highest_accepted {
            let digest = decode_hex(&a.digest)
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| {
                    Failure::argument(
                        "options.highestAccepted.digest: expected 64 hex digits".into(),
                    )
                })?;
            verify.highest_accepted = Some(Accepted {
                version: a.version,
                digest,
            });
        }
        if let Some(m) = o.max_payload {
            verify.max_payload = m;
        }
        let bundle = open_bundle(&bundle, &root, &verify)
            .map_err(|e| Failure::verify(&e, "invalidBundle"))?;
        Ok(Engine { bundle })
    }

    /// Compiles an unsigned payload (development and tests: nothing is verified, no grant is
    /// accepted).
    #[wasm_bindgen(js_name = openUnverified, unchecked_return_type = "Outcome<Engine>")]
    pub fn open_unverified(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] payload: JsValue,
    ) -> JsValue {
        outcome(
            bytes(&payload, "payload")
                .and_then(|b| Bundle::from_json(&b).map_err(|e| Failure::from(Error::from(e))))
                .map(|bundle| Engine { bundle }),
        )
    }

    /// Prices a cart. The input is an object, a JSON string or UTF-8 bytes.
    #[wasm_bindgen(unchecked_return_type = "Outcome<Evaluation>")]
    pub fn evaluate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EvaluationInput | string | Uint8Array")]
        input: JsValue,
        options: Option<EvaluateOptionsArg>,
    ) -> JsValue {
        // JSON text parsed by the host's JSON.parse: the same bytes as `evaluateJson`, and far
        // faster than building objects field by field across the boundary.
        outcome(self.evaluation_text(&input, options).and_then(|text| {
            JSON::parse(&text).map_err(|_| Failure::argument("result: not JSON".into()))
        }))
    }

    /// Prices a cart and answers the evaluation's JSON text: with the default options, byte
    /// for byte what every native host answers.
    #[wasm_bindgen(js_name = evaluateJson, unchecked_return_type = "Outcome<string>")]
    pub fn evaluate_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EvaluationInput | string | Uint8Array")]
        input: JsValue,
        options: Option<EvaluateOptionsArg>,
    ) -> JsValue {
        outcome(self.evaluation_text(&input, options).map(JsValue::from))
    }

    /// Only the unlock hints of an evaluation ("spend X more to get Y off").
    #[wasm_bindgen(unchecked_return_type = "Outcome<Unlock[]>")]
    pub fn unlocks(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EvaluationInput | string | Uint8Array")]
        input: JsValue,
    ) -> JsValue {
        outcome(self.evaluation(&input).and_then(|e| to_js(&e.unlocks)))
    }

    /// The evaluation's JSON text, its `notApplied` list as the options say.
    fn evaluation_text(
        &self,
        input: &JsValue,
        options: Option<EvaluateOptionsArg>,
    ) -> Result<String, Failure> {
        let o: EvaluateOptions = read_options(&optional(options), "options", EVALUATE_OPTIONS)?;
        let mut e = self.evaluation(input)?;
        e.not_applied.view(o.not_applied.unwrap_or_default());
        to_json(&e).map_err(Failure::from)
    }

    fn evaluation(&self, input: &JsValue) -> Result<Evaluation, Failure> {
        let json = input_json(input)?;
        let input = parse_input(&json).map_err(|e| Failure::from(Error::from(e)))?;
        promoseal_evaluator::evaluate(&self.bundle, &input).map_err(Failure::from)
    }

    /// Checks a code grant from the edge against this bundle (signature, lifetime, bundle,
    /// audience, subject) and says which promotion it unlocks. Pass accepted grants in
    /// `context.grants` to evaluate with them.
    #[wasm_bindgen(js_name = checkGrant, unchecked_return_type = "Outcome<GrantInfo>")]
    pub fn check_grant(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
        options: Option<GrantCheckArg>,
    ) -> JsValue {
        let options = optional(options);
        let r = (|| {
            let o: GrantOptions = read_options(&options, "options", GRANT_OPTIONS)?;
            let token = token
                .as_string()
                .ok_or_else(|| Failure::argument("token: expected a string".into()))?;
            let claims = self
                .bundle
                .check_grant(&token, o.now.unwrap_or_else(clock), o.subject.as_deref())
                .map_err(|e| Failure::verify(&e, "invalidGrant"))?;
            to_js(&claims)
        })();
        outcome(r)
    }

    #[wasm_bindgen(getter, js_name = bundleId)]
    pub fn bundle_id(&self) -> String {
        self.bundle.id().to_string()
    }

    /// The bundle's version (monotonic per bundle id).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        // Versions are counters, far below 2^53.
        self.bundle.version() as f64
    }

    #[wasm_bindgen(getter, unchecked_return_type = "Audience")]
    pub fn audience(&self) -> String {
        match self.bundle.audience() {
            Audience::Edge => "edge".into(),
            Audience::Storefront => "storefront".into(),
        }
    }

    #[wasm_bindgen(getter)]
    pub fn currency(&self) -> String {
        self.bundle.currency().to_string()
    }

    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> String {
        self.bundle.issued_at().to_string()
    }

    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> String {
        self.bundle.expires_at().to_string()
    }

    #[wasm_bindgen(getter, js_name = promotionCount)]
    pub fn promotion_count(&self) -> u32 {
        u32::try_from(self.bundle.promotion_count()).unwrap_or(u32::MAX)
    }

    /// Whether the bundle was verified against a trust root (`open`, not `openUnverified`).
    #[wasm_bindgen(getter)]
    pub fn verified(&self) -> bool {
        self.bundle.digest().is_some()
    }

    /// What to persist and pass back as `highestAccepted` next time (verified bundles only).
    #[wasm_bindgen(getter, unchecked_return_type = "AcceptedVersion | undefined")]
    pub fn accepted(&self) -> JsValue {
        self.bundle
            .accepted()
            .and_then(|a| {
                to_js(&AcceptedVersion {
                    version: a.version,
                    digest: encode_hex(&a.digest),
                })
                .ok()
            })
            .unwrap_or(JsValue::UNDEFINED)
    }
}
