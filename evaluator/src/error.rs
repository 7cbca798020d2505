//! One error enum per operation. Messages are lowercase, one line, no final period, user input
//! in backticks, context joined with colons. A promotion that does not apply is never an error:
//! it is an [`crate::Ineligible`] entry of the evaluation.

use thiserror::Error;

mod object;
mod place;

/// Something wrong with one field of the input, named by its JSON path (`cart.lines[2].quantity`).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError::of(path.into(), message.into())
    }

    /// One copy of the constructor, whatever the callers' argument types.
    #[inline(never)]
    fn of(path: String, message: String) -> FieldError {
        FieldError {
            path,
            message: bounded(message),
        }
    }
}

/// The longest message an error carries, in bytes: a message quotes the offending value, and
/// a 5 MB string would otherwise come back whole, in a log line or a page.
pub const MAX_MESSAGE: usize = 500;

/// `message`, cut to [`MAX_MESSAGE`] bytes (at a character boundary) with a note of its length
/// when it is longer.
#[inline(never)]
fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes in all)",
        message.get(..end).unwrap_or_default(),
        message.len()
    )
}

/// A bundle payload that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BundleError {
    /// Not well-formed JSON of the payload's shape (unknown field, duplicate key, wrong type).
    #[error("bundle: {0}")]
    Parse(FieldError),
    /// Well-formed but inconsistent (unknown currency, percentage above 100, duplicate id).
    #[error("bundle: {0}")]
    Invalid(FieldError),
}

/// A cart, customer or context that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("input: {0}")]
    Parse(FieldError),
    #[error("input: {0}")]
    Invalid(FieldError),
}

/// A valid bundle and a valid input that cannot be evaluated together.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EvaluationError {
    #[error("cart currency `{cart}` does not match bundle currency `{bundle}`")]
    CurrencyMismatch { cart: String, bundle: String },
    #[error("bundle `{bundle_id}` expired at {expires_at}, evaluation time is {now}")]
    BundleExpired {
        bundle_id: String,
        expires_at: String,
        now: String,
    },
    #[error("arithmetic overflow: {0}")]
    Overflow(String),
}

/// Any failure of [`crate::evaluate_json`]: the input's or the bundle's, or of their combination.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Evaluation(#[from] EvaluationError),
    /// A signed bundle refused by its verifier: publicly just "invalid bundle".
    #[cfg(feature = "verify")]
    #[error(transparent)]
    Verify(#[from] crate::seal::VerifyError),
}

impl Error {
    /// The input or bundle field at fault, when the error names one.
    pub fn field(&self) -> Option<&FieldError> {
        match self {
            Error::Bundle(BundleError::Parse(f) | BundleError::Invalid(f))
            | Error::Input(InputError::Parse(f) | InputError::Invalid(f)) => Some(f),
            _ => None,
        }
    }

    /// A stable machine code: `invalidBundle`, `invalidInput` or `evaluationFailed`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Bundle(_) => "invalidBundle",
            #[cfg(feature = "verify")]
            Error::Verify(_) => "invalidBundle",
            Error::Input(_) => "invalidInput",
            Error::Evaluation(_) => "evaluationFailed",
        }
    }
}

/// Why a strict JSON read failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// The text is not JSON (a syntax error, a truncated text, trailing data), as opposed to
    /// JSON of the wrong shape.
    pub syntax: bool,
    /// The path of the offending field (`cart.lines[2].quantity`); `None` at the top level.
    pub path: Option<String>,
    /// serde_json's message, with its line and column.
    pub message: String,
    /// The message without the line and column (a path names the place).
    pub detail: String,
}

/// The one strict JSON reader every host uses (the evaluator's payloads and inputs, the
/// ledger's and the edge's request bodies through `promoseal-wire`): unknown fields, duplicate
/// keys and wrong types are refused (as the types declare), trailing data too, a struct at the
/// top level must be an object (not serde's array of its fields, [`object`]), and the first
/// problem is named by its path.
///
/// The text is read once, directly, with no path kept: a refused text's path is found
/// afterwards from where the reader stopped ([`place`]). Tracking the path while reading cost
/// an allocation per key, several times the read itself, and a wrapper around every type's
/// reader in the `.wasm`.
pub fn from_json_strict<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = object::read::<T, _>(bytes, &mut de)
        .map_err(|e| JsonError::refused(place::path_of(bytes, &e), &e))?;
    de.end().map_err(|e| JsonError::trailing(&e))?;
    Ok(value)
}

impl JsonError {
    /// serde_json's refusal of the text's value, whose first problem is at `path`.
    pub fn refused(path: Option<String>, e: &serde_json::Error) -> JsonError {
        let message = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        let detail = message.strip_suffix(&position).unwrap_or(&message);
        // The detail cut to length, the position kept.
        let detail = bounded(detail.to_string());
        let message = match message.strip_suffix(&position) {
            Some(_) => format!("{detail}{position}"),
            None => detail.clone(),
        };
        JsonError {
            syntax: !matches!(e.classify(), serde_json::error::Category::Data),
            path,
            detail,
            message,
        }
    }

    /// serde_json's refusal of what follows the text's value.
    pub fn trailing(e: &serde_json::Error) -> JsonError {
        let message = bounded(e.to_string());
        JsonError {
            syntax: true,
            path: None,
            detail: message.clone(),
            message,
        }
    }
}

/// Parses JSON strictly into `T`, naming the path of the first offending field.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    from_json_strict(bytes).map_err(|e| match e.path {
        // No field to name: keep serde_json's line and column.
        None => FieldError::new("$", e.message),
        Some(path) => FieldError::new(path, e.detail),
    })
}
