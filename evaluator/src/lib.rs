#![doc = include_str!("../README.md")]

mod allocate;
pub mod analysis;
pub mod codes;
mod compile;
mod engine;
mod error;
mod evaluation;
pub mod model;
pub mod money;
mod presets;
#[cfg(test)]
mod proptests;
#[cfg(feature = "verify")]
pub mod seal;
mod select;
pub mod time;

pub use compile::{
    normalize_code, parse_input, parse_payload, Bundle, MAX_CODES, MAX_CODE_LEN, MAX_LINES,
    MAX_QUANTITY,
};
pub use error::{
    from_json_strict, BundleError, Error, EvaluationError, FieldError, InputError, JsonError,
};
pub use evaluation::{
    Allocation, AppliedDiscount, CodeUnlock, Evaluation, Ineligible, LedgerCheck, LineAmount,
    LineOutcome, NotApplied, NotAppliedView, Reason, ShippingOutcome, SpendExcess, SpendShortfall,
    Unlock,
};
pub use model::{BundlePayload, EvaluationInput};
pub use select::MAX_NODES;

/// Evaluates one input against a compiled bundle: a pure function of its arguments (the time is
/// `input.context.now`), deterministic, and free of panics.
pub fn evaluate(bundle: &Bundle, input: &EvaluationInput) -> Result<Evaluation, Error> {
    let compiled = compile::compile_input(input, bundle.currency)?;
    Ok(engine::run(bundle, &compiled)?)
}

/// The code-gated promotions the input's entered codes unlock, whatever its cart holds: what
/// the edge checks before it issues a code grant. A code unlocks a promotion when the
/// promotion's code set holds it and the schedule, window, channel, customer and region
/// conditions hold at `context.now`; spend and item conditions are the cart's, shown later as
/// unlock hints. Errors as [`evaluate`] (an expired bundle unlocks nothing).
pub fn code_unlocks(bundle: &Bundle, input: &EvaluationInput) -> Result<Vec<CodeUnlock>, Error> {
    let compiled = compile::compile_input(input, bundle.currency)?;
    Ok(engine::code_unlocks(bundle, &compiled)?)
}

/// JSON in, JSON out: parses the payload and the input strictly, evaluates, and serializes the
/// evaluation. The one entry point every binding (CLI, wasm, Worker, ledger) shares.
pub fn evaluate_json(bundle: &[u8], input: &[u8]) -> Result<String, Error> {
    let bundle = Bundle::from_json(bundle)?;
    let input = parse_input(input)?;
    let evaluation = evaluate(&bundle, &input)?;
    to_json(&evaluation)
}

/// Serializes an evaluation as compact JSON (the byte-identical form compared across hosts).
pub fn to_json(evaluation: &Evaluation) -> Result<String, Error> {
    serde_json::to_string(evaluation)
        .map_err(|e| Error::Evaluation(EvaluationError::Overflow(format!("serialization: {e}"))))
}
