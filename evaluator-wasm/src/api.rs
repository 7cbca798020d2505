//! The JavaScript API's own data: its options and its answers, as serde types. The binding
//! (`wasm.rs`) reads and writes exactly these, and `types.d.ts` is generated from them and from
//! the core's types, so the declarations cannot drift from what the package does.

use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::VerifyError;
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{Error, NotAppliedView};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// What every call returns: a value, or a failure. Nothing is thrown.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Outcome<T> {
    Success {
        #[cfg_attr(test, ts(type = "true"))]
        ok: bool,
        value: T,
    },
    Failure {
        #[cfg_attr(test, ts(type = "false"))]
        ok: bool,
        error: Failure,
    },
}

impl<T> From<Result<T, Failure>> for Outcome<T> {
    fn from(r: Result<T, Failure>) -> Outcome<T> {
        match r {
            Ok(value) => Outcome::Success { ok: true, value },
            Err(error) => Outcome::Failure { ok: false, error },
        }
    }
}

/// Why a call failed.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
pub struct Failure {
    /// Stable: `invalidArgument`, `invalidBundle`, `invalidTrustRoot`, `invalidInput`,
    /// `evaluationFailed`, `invalidGrant`, or `freed` (an `Engine` called after `free()`; the
    /// package's glue answers it, evaluator-wasm/npm/freed.js).
    pub code: &'static str,
    /// One line in plain words. For signatures it is only "invalid bundle" (or root, grant).
    pub message: String,
    /// Signatures: the stable reason (`badSignature`, `expired`, `rollback`, …), for logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Signatures: the reason in words, for logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Input and bundle errors: the JSON path of the offending field (`cart.lines[2].quantity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Failure {
    /// A wrong argument: a type, an option or a value the API does not take.
    pub fn argument(message: String) -> Failure {
        Failure {
            code: "invalidArgument",
            message,
            reason: None,
            detail: None,
            path: None,
        }
    }

    /// A refused signature: the opaque message, the stable reason and its words for logs.
    pub fn verify(e: &VerifyError, code: &'static str) -> Failure {
        Failure {
            code,
            message: e.to_string(),
            reason: Some(e.refusal().code()),
            detail: Some(e.refusal().to_string()),
            path: None,
        }
    }
}

/// The input around a draft is wrong (the draft's own problems are the review's `errors`).
#[cfg(feature = "authoring")]
impl From<promoseal_authoring::ReviewError> for Failure {
    fn from(e: promoseal_authoring::ReviewError) -> Failure {
        Failure {
            code: "invalidInput",
            message: e.to_string(),
            reason: None,
            detail: None,
            path: e.field().map(|f| f.path),
        }
    }
}

/// A recurring window or its range that cannot be expanded, with the field at fault.
#[cfg(feature = "authoring")]
impl From<promoseal_authoring::WindowsError> for Failure {
    fn from(e: promoseal_authoring::WindowsError) -> Failure {
        Failure {
            code: "invalidInput",
            message: e.to_string(),
            reason: None,
            detail: None,
            path: Some(e.field().path),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        if let Error::Verify(v) = &e {
            return Failure::verify(v, "invalidBundle");
        }
        Failure {
            code: e.code(),
            message: e.to_string(),
            reason: None,
            detail: None,
            path: e.field().map(|f| f.path.clone()),
        }
    }
}

/// Bytes exactly as signed. A string is read as UTF-8; prefer the bytes.
#[cfg(test)]
#[derive(ts_rs::TS)]
#[ts(type = "Uint8Array | ArrayBuffer | string")]
pub struct Bytes;

/// `Engine.open`'s options.
#[derive(Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenOptions {
    /// Who this host is: a browser is a `storefront` (the default).
    pub audience: Option<Audience>,
    /// Verification time; default: the host's clock.
    pub now: Option<Instant>,
    /// Root rotations to apply to the given root, oldest first (each signed by the one before).
    // Read by the binding itself: an array of byte arrays, which serde cannot take from JS.
    #[serde(default, rename = "rotations")]
    #[cfg_attr(test, ts(as = "Option<Vec<Bytes>>"))]
    pub _rotations: Option<IgnoredAny>,
    /// The highest version this host accepted before (persist `engine.accepted`): older
    /// versions are refused, and the same version only with the same bytes.
    pub highest_accepted: Option<AcceptedVersion>,
    /// Largest payload read, in bytes (default 32 MiB).
    pub max_payload: Option<usize>,
}

/// The keys [`OpenOptions`] takes (serde-wasm-bindgen reads only the keys a struct has, so
/// the binding refuses any other by this list).
pub const OPEN_OPTIONS: &[&str] = &[
    "audience",
    "now",
    "rotations",
    "highestAccepted",
    "maxPayload",
];

/// A bundle version a host accepted: `engine.accepted`, passed back as `highestAccepted`.
#[derive(Deserialize, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptedVersion {
    pub version: u64,
    /// SHA-256 of the accepted payload, lowercase hex.
    pub digest: String,
}

/// `engine.evaluate`'s options.
#[derive(Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvaluateOptions {
    /// Which promotions `notApplied` lists: `"all"` (the default, byte-identical to every host),
    /// `"cart"` (leaves out those that target no line of the cart: usually most of a large
    /// bundle) or `"none"` (an empty list). The rest of the evaluation is the same.
    pub not_applied: Option<NotAppliedView>,
}

/// The keys [`EvaluateOptions`] takes.
pub const EVALUATE_OPTIONS: &[&str] = &["notApplied"];

/// `engine.checkGrant`'s options.
#[derive(Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "GrantCheck", optional_fields))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrantOptions {
    /// Check time; default: the host's clock.
    pub now: Option<Instant>,
    /// Who evaluates: a grant issued to a subject unlocks only for the same one.
    pub subject: Option<String>,
}

/// The keys [`GrantOptions`] takes.
pub const GRANT_OPTIONS: &[&str] = &["now", "subject"];

/// A trust root and its rotations, verified (`inspectRoot`).
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct RootInfo {
    pub version: u64,
    /// SHA-256 of the root payload, lowercase hex.
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Instant>,
}

#[cfg(test)]
mod tests {
    use serde::de::{DeserializeOwned, Deserializer, Error as _, Visitor};
    use serde::forward_to_deserialize_any;

    use super::*;

    /// The keys a struct's derived `Deserialize` takes, as serde hands them to a deserializer.
    fn keys<T: DeserializeOwned>() -> &'static [&'static str] {
        struct Probe<'a>(&'a mut &'static [&'static str]);
        type Error = serde::de::value::Error;
        impl<'de> Deserializer<'de> for Probe<'_> {
            type Error = Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                Err(Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Error> {
                *self.0 = fields;
                Err(Error::custom("keys only"))
            }
            forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut keys: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe(&mut keys));
        keys
    }

    #[test]
    fn option_key_lists_are_the_structs_keys() {
        assert_eq!(keys::<OpenOptions>(), OPEN_OPTIONS);
        assert_eq!(keys::<EvaluateOptions>(), EVALUATE_OPTIONS);
        assert_eq!(keys::<GrantOptions>(), GRANT_OPTIONS);
    }
}
