//! The review of a draft promotion: everything the console shows while a promotion is written,
//! in one pure call. The page runs it as wasm on every change and the console's server runs it
//! natively before it keeps a draft or an approval, so what an approver reads is what the server
//! checks and what the edge will compute.
//!
//! [`review`] reads the draft with the evaluator's strict JSON reader and compiles it with the
//! evaluator, names every field either refuses, describes the draft in plain words
//! ([`crate::describe`]), computes its approval digest and exposure
//! ([`seal`](promoseal_evaluator::seal)), the roles the trust root's rules send it to, its lint
//! report among the shop's promotions ([`crate::lint`]) and the promotions it meets
//! ([`analysis`](promoseal_evaluator::analysis)). [`draft_payload`] is the unsigned bundle the
//! page prices sample carts with (`Engine.openUnverified`).

use promoseal_evaluator::analysis::{self, Dimension};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::{
    Audience, BundlePayload, CodeSetSpec, DiscountClass, PricingPolicy, PromotionSpec,
    FORMAT_VERSION,
};
use promoseal_evaluator::money::Currency;
use promoseal_evaluator::seal::{approval_digest, Exposure, RootPayload};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{from_json_strict, Bundle, BundleError, EvaluationInput, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::describe;
use crate::lint::{self, money, ExposureView, LintError, LintInput, Policy, PolicyError, Report};

/// The bundle id of a [`draft_payload`].
pub const DRAFT_BUNDLE_ID: &str = "draft";

/// The one code of every code set in a [`draft_payload`]: enter it in a sample cart's
/// `context.codes` to price a code-gated promotion.
pub const PREVIEW_CODE: &str = "PREVIEW";

/// What `review` looks at: the draft, the shop's bundle settings and current promotions, the
/// trust root's approval rules, the lint policy and the sample carts.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReviewInput {
    /// The draft promotion as `docs/json-reference.md` describes a promotion (the fields of a
    /// project's `promotions/*.toml`): a JSON object, or its JSON text. Whatever is wrong with
    /// it is in the review's `errors`, never a failure of the call.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | string"))]
    pub draft: Value,
    /// The bundle currency (`promoseal.toml`'s `currency`).
    pub currency: String,
    /// The shop's IANA time zone (`timeZone`), carried into the draft payload.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub time_zone: Option<String>,
    /// The bundle's declared arithmetic (`[pricing]`); default: every default.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable, as = "ts::PricingPolicyJson"))]
    pub pricing: PricingPolicy,
    /// The shop's current promotions. The one with the draft's id, if any, is the promotion the
    /// draft edits: the draft takes its place.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable, as = "Vec<ts::PromotionJson>"))]
    pub promotions: Vec<PromotionSpec>,
    /// The ids of the shop's code sets. When given, a `codeSet` naming another is an error;
    /// when absent, any code set is taken to exist.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub code_sets: Option<Vec<String>>,
    /// The trust root's payload: its approval rules, thresholds and keys (their roles and
    /// authorization limits). Only read, never verified: the host gives the root it trusts.
    #[cfg_attr(feature = "ts", ts(as = "ts::RootPayloadJson"))]
    pub root: RootPayload,
    /// The lint policy (`policy.toml`'s keys); default: no limits.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub policy: Policy,
    /// Sample carts the lint projects the draft's cost on (`samples/*.json`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub samples: Vec<Sample>,
}

/// Stand-ins for the model types the evaluator does not declare in TypeScript yet: JSON
/// objects, as `docs/json-reference.md` and `docs/signing.md` describe them.
#[cfg(feature = "ts")]
#[doc(hidden)]
pub mod ts {
    /// A promotion as `docs/json-reference.md` describes it: the fields of a project's
    /// `promotions/*.toml`, in JSON.
    #[derive(ts_rs::TS)]
    #[ts(rename = "Promotion", type = "Record<string, unknown>")]
    pub struct PromotionJson;

    /// A bundle's declared arithmetic (`pricing`), as `docs/json-reference.md` describes it.
    #[derive(ts_rs::TS)]
    #[ts(rename = "PricingPolicy", type = "Record<string, unknown>")]
    pub struct PricingPolicyJson;

    /// A trust root's payload (`format`, `version`, `keys`, `thresholds`, `approvals`), as
    /// `docs/signing.md` describes it.
    #[derive(ts_rs::TS)]
    #[ts(rename = "RootPayload", type = "Record<string, unknown>")]
    pub struct RootPayloadJson;
}

/// A named sample cart.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Sample {
    /// The name lint reports it by (`samples/<name>.json` in a project).
    pub name: String,
    pub input: EvaluationInput,
}

/// What the console shows about a draft.
///
/// `words`, `digest`, `exposure` and `approvers` need a draft the strict reader accepts (the
/// evaluator may still refuse some of its values: see `errors`); `lint`, `conflicts` and
/// `payload` need a valid draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// Every reason the draft is invalid, each naming its field; empty when it is valid.
    pub errors: Vec<DraftError>,
    /// The draft in plain words, as `promoseal approve` shows it to an approver.
    pub words: Vec<String>,
    /// The approval digest, lowercase hex: what approvers sign (`seal::approval_digest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The most the draft can grant as approvals measure it (`seal::Exposure::of`):
    /// percentages without trailing zeros, money with the currency's places.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<ExposureView>,
    /// The roles that must approve the draft, in the root's order, with the keys that can.
    pub approvers: Vec<Approver>,
    /// What `promoseal lint` reports about the draft among the shop's promotions: its own
    /// report, with every finding about it (`lint::lint_promotion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lint: Option<Report>,
    /// The current promotions live at the same time as the draft that can discount the same
    /// items or shipping, in application order, with whether they stack with it.
    pub conflicts: Vec<Overlap>,
    /// The unsigned bundle payload of the shop's promotions with the draft (`draft_payload`),
    /// as JSON text: open it with `Engine.openUnverified` to price carts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// One reason a draft is invalid.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[error("{path}: {message}")]
pub struct DraftError {
    /// The field, as the evaluator's strict JSON reader names it (`reward.percent`,
    /// `loyaltyBonus[0].tier`); `$` for the draft as a whole (not JSON, a missing field).
    pub path: String,
    pub message: String,
}

/// A role that must approve the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    pub role: String,
    /// Approvals by distinct keys of the role that the root requires (its threshold).
    pub required: u32,
    /// The root's keys holding the role, in the root's order.
    pub keys: Vec<ApproverKey>,
    /// At least `required` of the keys cover the draft: otherwise no approval under this root
    /// can release it as it stands.
    pub coverable: bool,
}

/// A key that may approve for a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct ApproverKey {
    pub key_id: String,
    /// The draft is within the key's authorization limits (a key without limits covers
    /// anything): its approval would count.
    pub covers: bool,
}

/// A current promotion the draft meets: both are live at some time and can discount the same
/// thing (the evaluator's analysis API says so).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Overlap {
    pub promotion_id: String,
    pub name: String,
    pub class: DiscountClass,
    /// The first stretch of time both are live.
    pub live_together: LiveSpan,
    /// Why both can discount the same thing.
    pub target: SharedTarget,
    /// Whether one cart can get both.
    pub combination: Combination,
}

/// A stretch of time `[start, end)`; an absent end is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct LiveSpan {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Instant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Instant>,
}

/// Why two promotions can discount the same thing (the evaluator's `analysis::SharedTarget`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SharedTarget {
    /// Both target every item.
    EveryItem,
    /// One targets every item, the other names this value, which the first does not exclude.
    EveryItemAnd { dimension: Dimension, value: String },
    /// Both name this value in the same dimension and neither excludes it.
    Named { dimension: Dimension, value: String },
    /// Both take off shipping, and some shipping method and country suit both.
    Shipping,
}

/// Whether two promotions can both apply to one cart (the evaluator's
/// `analysis::Combination`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Combination {
    /// Both may apply, on the same lines too: they stack.
    Combines,
    /// Two product discounts that do not accept each other's class: both apply only to a cart
    /// where no line is discounted by both.
    DisjointLinesOnly,
    /// Never both in one evaluation (the evaluator picks the better for the shopper), for
    /// these reasons.
    Never { conflicts: Vec<Conflict> },
}

/// One reason two promotions never both apply (the evaluator's `analysis::Conflict`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Conflict {
    /// This promotion is exclusive: it combines with nothing.
    Exclusive { promotion: String },
    /// Both are in this stacking group: at most one of a group applies.
    SameGroup { group: String },
    /// This promotion does not list the other's class in `combinesWith`.
    ClassRefused {
        promotion: String,
        class: DiscountClass,
    },
    /// The bundle applies only the single best promotion (`stacking: bestOnly`).
    BestOnly,
}

impl From<analysis::SharedTarget<'_>> for SharedTarget {
    fn from(t: analysis::SharedTarget) -> SharedTarget {
        match t {
            analysis::SharedTarget::EveryItem => SharedTarget::EveryItem,
            analysis::SharedTarget::EveryItemAnd { dimension, value } => {
                SharedTarget::EveryItemAnd {
                    dimension,
                    value: value.to_string(),
                }
            }
            analysis::SharedTarget::Named { dimension, value } => SharedTarget::Named {
                dimension,
                value: value.to_string(),
            },
            analysis::SharedTarget::Shipping => SharedTarget::Shipping,
        }
    }
}

impl From<&analysis::Conflict<'_>> for Conflict {
    fn from(c: &analysis::Conflict) -> Conflict {
        match c {
            analysis::Conflict::Exclusive { promotion } => Conflict::Exclusive {
                promotion: promotion.to_string(),
            },
            analysis::Conflict::SameGroup { group } => Conflict::SameGroup {
                group: group.to_string(),
            },
            analysis::Conflict::ClassRefused { promotion, class } => Conflict::ClassRefused {
                promotion: promotion.to_string(),
                class: *class,
            },
            analysis::Conflict::BestOnly => Conflict::BestOnly,
        }
    }
}

impl From<&analysis::Combination<'_>> for Combination {
    fn from(c: &analysis::Combination) -> Combination {
        match c {
            analysis::Combination::Combines => Combination::Combines,
            analysis::Combination::DisjointLinesOnly => Combination::DisjointLinesOnly,
            analysis::Combination::Never { conflicts } => Combination::Never {
                conflicts: conflicts.iter().map(Conflict::from).collect(),
            },
        }
    }
}

/// Why a review could not be made: the input around the draft is wrong (the draft's own
/// problems are the review's `errors`).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ReviewError {
    /// Not JSON of [`ReviewInput`]'s shape (unknown field, duplicate key, wrong type).
    #[error("input: {0}")]
    Parse(FieldError),
    /// Bundle settings the evaluator refuses (currency, pricing, code sets).
    #[error("input: {0}")]
    Settings(FieldError),
    #[error("input: policy.{0}")]
    Policy(PolicyError),
    /// The shop's promotions or the sample carts, as lint refuses them.
    #[error("input: {0}")]
    Lint(LintError),
}

impl ReviewError {
    /// The field of the input at fault, when the error names one.
    pub fn field(&self) -> Option<FieldError> {
        match self {
            ReviewError::Parse(f) | ReviewError::Settings(f) => Some(f.clone()),
            ReviewError::Policy(e) => Some(FieldError::new(
                format!("policy.{}", e.field()),
                e.to_string(),
            )),
            ReviewError::Lint(_) => None,
        }
    }
}

/// Reads a [`ReviewInput`] from JSON with the evaluator's strict reader and reviews it: the
/// whole call of a host that holds JSON (the wasm API, the console's server).
pub fn review_json(bytes: &[u8]) -> Result<Review, ReviewError> {
    let input: ReviewInput = from_json_strict(bytes).map_err(|e| {
        ReviewError::Parse(match e.path {
            None => FieldError::new("$", e.message),
            Some(path) => FieldError::new(path, e.detail),
        })
    })?;
    review(&input)
}

/// Reviews a draft promotion. Pure: the same input gives the same review on every host.
pub fn review(input: &ReviewInput) -> Result<Review, ReviewError> {
    let currency = check_settings(input)?;
    input.policy.check().map_err(ReviewError::Policy)?;
    let (spec, mut errors) = read_draft(input);
    // The project's id rule, which is narrower than the evaluator's (1 to 128 bytes): its
    // message in place of the evaluator's, so the person reads the rule to follow.
    if let Some(e) = spec.as_ref().and_then(|s| id_error(&s.id)) {
        errors.retain(|x| x.path != "id");
        errors.push(e);
    }
    let exposure = spec.as_ref().map(Exposure::of);
    if let (Some(spec), Some(exposure)) = (&spec, &exposure) {
        let refused: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
        errors.extend(
            project_errors(&input.draft, spec, exposure)
                .into_iter()
                .filter(|e| !refused.contains(&e.path)),
        );
    }
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    let (Some(spec), Some(exposure)) = (spec, exposure) else {
        return Ok(Review {
            errors,
            words: Vec::new(),
            digest: None,
            exposure: None,
            approvers: Vec::new(),
            lint: None,
            conflicts: Vec::new(),
            payload: None,
        });
    };
    let code = currency.code();
    let mut review = Review {
        errors,
        words: describe::promotion(&spec, code, input.time_zone.as_deref()),
        digest: Some(encode_hex(&approval_digest(code, &spec))),
        exposure: Some(ExposureView {
            max_percent: exposure.max_percent.map(|d| d.normalize().to_string()),
            max_amount: exposure.max_amount.map(|d| money(d, currency)),
            budget: exposure.budget.map(|d| money(d, currency)),
        }),
        approvers: approvers(&input.root, &exposure, code),
        lint: None,
        conflicts: Vec::new(),
        payload: None,
    };
    if !review.errors.is_empty() {
        return Ok(review);
    }
    let payload = draft_payload(input, &spec);
    let samples: Vec<(String, EvaluationInput)> = input
        .samples
        .iter()
        .map(|s| (s.name.clone(), s.input.clone()))
        .collect();
    let lint_input = LintInput {
        currency: code,
        pricing: &input.pricing,
        promotions: &payload.promotions,
        samples: &samples,
    };
    review.lint = Some(
        lint::lint_promotion(&lint_input, &input.policy, &spec.id).map_err(ReviewError::Lint)?,
    );
    // The draft compiles alone (no errors) and the others did with it in lint: what fails
    // here is the shop's (a code set `codeSets` does not list).
    let bundle = Bundle::compile(&payload).map_err(|e| ReviewError::Settings(field_of(e)))?;
    review.conflicts = conflicts(&bundle, &spec.id);
    review.payload = serde_json::to_string(&payload).ok();
    Ok(review)
}

/// The longest promotion id.
pub const MAX_ID: usize = 64;

/// The id rule of a project: an id names the promotion's files (`promotions/<id>.json`,
/// `approvals/<id>.<key>.json`), so it is 1 to [`MAX_ID`] lower-case letters, digits, `-` or
/// `_`, starting with a letter or digit.
pub fn id_error(id: &str) -> Option<DraftError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    (!ok).then(|| DraftError {
        path: "id".into(),
        message: format!(
            "an id is 1 to {MAX_ID} lower-case letters, digits, `-` or `_`, starting with a \
             letter or digit"
        ),
    })
}

/// The longest promotion name, in characters.
pub const MAX_NAME: usize = 200;

/// Terms the evaluator would price, and that still make no sense as a shop's promotion: the
/// project's rules for drafts, as the id's. Bundles already signed are not judged by them.
/// - A name shoppers and approvers read: 1 to [`MAX_NAME`] characters, none a control.
/// - A reward that takes something off: a deepest percentage or a largest amount above 0.
/// - A limit of 0 (uses or budget), which would let the promotion never apply: no limit is
///   written by leaving the field out.
/// - An empty list of SKUs, products, categories, brands or tags: it selects nothing, yet
///   reads as if it were left out, which means every item.
///
/// `exposure` is the spec's (`Exposure::of`), which the review has already measured.
pub fn project_errors(draft: &Value, spec: &PromotionSpec, exposure: &Exposure) -> Vec<DraftError> {
    let mut out = Vec::new();
    let mut error = |path: &str, message: String| {
        out.push(DraftError {
            path: path.into(),
            message,
        })
    };
    let name = spec.name.trim();
    if name.is_empty() {
        error("name", "a promotion needs a name".into());
    } else if let Some(why) = text_error(&spec.name, MAX_NAME, false) {
        error("name", format!("a name {why}"));
    }
    for (field, text, most, lines) in [
        ("description", &spec.description, MAX_DESCRIPTION, true),
        ("campaign", &spec.campaign, MAX_NAME, false),
    ] {
        if let Some(why) = text.as_deref().and_then(|t| text_error(t, most, lines)) {
            error(field, format!("a {field} {why}"));
        }
    }
    if spec
        .max_discount
        .as_ref()
        .is_some_and(|m| m.0 <= rust_decimal::Decimal::ZERO)
    {
        error(
            "maxDiscount",
            "a cap of 0 would let the promotion never give anything: leave it out for no cap"
                .into(),
        );
    }
    let positive =
        |d: Option<rust_decimal::Decimal>| d.is_some_and(|d| d > rust_decimal::Decimal::ZERO);
    if !positive(exposure.max_percent) && !positive(exposure.max_amount) {
        error(
            "reward",
            "the reward takes nothing off: give it a percentage or an amount above 0".into(),
        );
    }
    let l = &spec.limits;
    for (field, value) in [
        ("totalUses", l.total_uses),
        ("perCode", l.per_code),
        ("perCustomer", l.per_customer),
        ("perDay", l.per_day),
    ] {
        if value == Some(0) {
            error(
                &format!("limits.{field}"),
                "0 uses would let the promotion never apply: leave the limit out for no limit"
                    .into(),
            );
        }
    }
    if l.budget.as_ref().is_some_and(|b| b.0.is_zero()) {
        error(
            "limits.budget",
            "a budget of 0 would let the promotion never apply: leave it out for no budget".into(),
        );
    }
    empty_lists(draft, "", &mut |path, problem| {
        let message = match problem {
            ListProblem::Empty => {
                "an empty list selects nothing, but reads as left out (everything): name at \
                 least one, or leave the field out"
            }
            ListProblem::Blank => "a blank name matches nothing: remove it",
            ListProblem::Twice => "this name is listed twice",
        };
        error(&path, message.into());
    });
    out
}

/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;

/// What is wrong with a text people read (a name, a description): too long, or holding
/// characters that hide or disguise what it says (controls, and the bidirectional overrides
/// and isolates that can make `gnp.exe` read as `exe.png`); `lines` allows line breaks and tabs.
fn text_error(text: &str, most: usize, lines: bool) -> Option<String> {
    if text.chars().count() > most {
        Some(format!("has at most {most} characters"))
    } else if text
        .chars()
        .any(|c| c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t')) || disguising(c))
    {
        Some("holds no control or text-direction characters".into())
    } else {
        None
    }
}

/// Whether `c` disguises text without being seen: the bidirectional overrides, embeddings,
/// isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), and invisible
/// characters (U+200B, U+2060–U+2064, U+FEFF). The joiners U+200C and U+200D are not among
/// them: emoji sequences and Persian need them. Refused in names (the console's editor,
/// `promoseal approve`) and shown as escapes by the CLI.
pub fn disguising(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// What [`empty_lists`] finds in a selecting list.
enum ListProblem {
    /// No entry: selects nothing, reads as left out.
    Empty,
    /// An entry that is blank.
    Blank,
    /// An entry listed before.
    Twice,
}

/// Calls `found` with the path of every selecting list (`skus`, `products`, `categories`,
/// `brands`, `tags`, the conditions' `customerTiers`, `customerSegments`, `regions`,
/// `channels`, and `intervals`) that is empty, and of every blank or repeated entry in one,
/// in the draft's JSON.
fn empty_lists(v: &Value, at: &str, found: &mut dyn FnMut(String, ListProblem)) {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let selecting = matches!(
                    k.as_str(),
                    "skus"
                        | "products"
                        | "categories"
                        | "brands"
                        | "tags"
                        | "customerTiers"
                        | "customerSegments"
                        | "regions"
                        | "channels"
                        | "intervals"
                );
                match v.as_array() {
                    Some(list) if selecting && list.is_empty() => {
                        found(join(k), ListProblem::Empty)
                    }
                    Some(list) if selecting => {
                        for (i, entry) in list.iter().enumerate() {
                            let at = format!("{}[{i}]", join(k));
                            if entry.as_str().is_some_and(|t| t.trim().is_empty()) {
                                found(at, ListProblem::Blank);
                            } else if entry.is_string()
                                && list.get(..i).is_some_and(|before| before.contains(entry))
                            {
                                found(at, ListProblem::Twice);
                            }
                        }
                    }
                    _ => empty_lists(v, &join(k), found),
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                empty_lists(v, &format!("{at}[{i}]"), found);
            }
        }
        Value::String(text) if at.is_empty() => {
            if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                empty_lists(&parsed, "", found);
            }
        }
        _ => {}
    }
}

/// The unsigned bundle payload the page prices carts with: the shop's promotions, the draft in
/// place of the promotion with its id, sorted by id as a project's; the bundle settings; every
/// code set holding only [`PREVIEW_CODE`]; valid from 1970 to 9999. `Engine.openUnverified`
/// opens it (and tells why, if the draft is invalid).
pub fn draft_payload(input: &ReviewInput, draft: &PromotionSpec) -> BundlePayload {
    let mut promotions: Vec<PromotionSpec> = input
        .promotions
        .iter()
        .filter(|p| p.id != draft.id)
        .cloned()
        .chain(std::iter::once(draft.clone()))
        .collect();
    promotions.sort_by(|a, b| a.id.cmp(&b.id));
    let named: Vec<&String> = match &input.code_sets {
        Some(ids) => ids.iter().collect(),
        None => promotions
            .iter()
            .filter_map(|p| p.code_set.as_ref())
            .collect(),
    };
    BundlePayload {
        code_sets: preview_code_sets(&named),
        promotions,
        ..empty_payload(input)
    }
}

/// The payload of the settings alone: no code set, no promotion.
fn empty_payload(input: &ReviewInput) -> BundlePayload {
    BundlePayload {
        format: FORMAT_VERSION,
        bundle_id: DRAFT_BUNDLE_ID.to_string(),
        audience: Audience::Edge,
        version: 1,
        issued_at: Instant(0),
        expires_at: Instant::LAST,
        currency: input.currency.clone(),
        time_zone: input.time_zone.clone(),
        pricing: input.pricing.clone(),
        code_sets: Vec::new(),
        promotions: Vec::new(),
        approvals: Vec::new(),
    }
}

/// A code set holding only [`PREVIEW_CODE`].
fn preview_code_set(id: &str) -> CodeSetSpec {
    CodeSetSpec {
        id: id.to_string(),
        codes: vec![PREVIEW_CODE.to_string()],
        hashes: None,
        generated: None,
        active: true,
    }
}

/// One preview code set per id (the first of repeats).
fn preview_code_sets(ids: &[&String]) -> Vec<CodeSetSpec> {
    let mut sets: Vec<CodeSetSpec> = Vec::with_capacity(ids.len());
    for id in ids {
        if !sets.iter().any(|s| s.id == **id) {
            sets.push(preview_code_set(id));
        }
    }
    sets
}

/// The field a bundle error names.
fn field_of(e: BundleError) -> FieldError {
    match e {
        BundleError::Parse(f) | BundleError::Invalid(f) => f,
    }
}

/// Checks the settings as the evaluator does (an empty bundle of them, every code set id
/// included, repeats too, must compile) and answers the currency.
fn check_settings(input: &ReviewInput) -> Result<Currency, ReviewError> {
    let mut payload = empty_payload(input);
    if let Some(ids) = &input.code_sets {
        payload.code_sets = ids.iter().map(|id| preview_code_set(id)).collect();
    }
    Bundle::compile(&payload).map_err(|e| {
        let mut f = field_of(e);
        // A code set is only its id here: `codeSets[2].id` is `codeSets[2]` of the input.
        if f.path.starts_with("codeSets[") {
            if let Some(path) = f.path.strip_suffix(".id") {
                f.path = path.to_string();
            }
        }
        ReviewError::Settings(f)
    })?;
    Currency::from_code(&input.currency).ok_or_else(|| {
        ReviewError::Settings(FieldError::new(
            "currency",
            format!("unknown currency `{}`", input.currency),
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// The draft's errors
// ---------------------------------------------------------------------------------------------

/// A promotion the reader and the evaluator accept: the ground each field of a draft is tried
/// on alone.
fn ground() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from("draft"));
    m.insert("name".into(), Value::from("draft"));
    let mut reward = Map::new();
    reward.insert("type".into(), Value::from("percentOff"));
    reward.insert("percent".into(), Value::from("0"));
    m.insert("reward".into(), Value::Object(reward));
    m
}

/// The draft read and checked: the promotion when the strict reader accepts it, and every
/// error the reader or the evaluator finds in it, by path.
fn read_draft(input: &ReviewInput) -> (Option<PromotionSpec>, Vec<DraftError>) {
    let text = match &input.draft {
        Value::String(text) => text.clone().into_bytes(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    };
    let (spec, first) = match from_json_strict::<PromotionSpec>(&text) {
        Ok(spec) => {
            let first = compile_error(input, &spec);
            (Some(spec), first)
        }
        // Not JSON: serde_json's message, with the line and column in the draft's text.
        Err(e) if e.syntax => {
            let error = DraftError {
                path: "$".into(),
                message: e.message,
            };
            return (None, vec![error]);
        }
        Err(e) => {
            let error = DraftError {
                path: e.path.unwrap_or_else(|| "$".into()),
                message: e.detail,
            };
            (None, Some(error))
        }
    };
    let Some(first) = first else {
        return (spec, Vec::new());
    };
    let errors = match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(draft)) => by_field(&draft, first, |probe| match read(probe) {
            Err(e) => Some(e),
            Ok(spec) => compile_error(input, &spec),
        }),
        _ => vec![first],
    };
    (spec, errors)
}

/// Reads a promotion from a JSON object with the strict reader.
fn read(object: &Map<String, Value>) -> Result<PromotionSpec, DraftError> {
    let bytes = serde_json::to_vec(object).unwrap_or_default();
    from_json_strict(&bytes).map_err(|e| DraftError {
        path: e.path.unwrap_or_else(|| "$".into()),
        message: e.detail,
    })
}

/// The first error the evaluator finds in the promotion compiled alone, its path relative to
/// the promotion.
fn compile_error(input: &ReviewInput, spec: &PromotionSpec) -> Option<DraftError> {
    let named: Vec<&String> = match &input.code_sets {
        Some(ids) => ids.iter().collect(),
        None => spec.code_set.iter().collect(),
    };
    let payload = BundlePayload {
        code_sets: preview_code_sets(&named),
        promotions: vec![spec.clone()],
        ..empty_payload(input)
    };
    let f = field_of(Bundle::compile(&payload).err()?);
    let path = match f.path.strip_prefix("promotions[0]") {
        Some("") => "$".to_string(),
        Some(rest) => rest.strip_prefix('.').unwrap_or(rest).to_string(),
        // The settings, checked before: not the draft's.
        None => return None,
    };
    Some(DraftError {
        path,
        message: f.message,
    })
}

/// The errors of a draft field by field, so that one mistake does not hide the next; `check`
/// answers the first error of a promotion (the reader's, else the evaluator's), and `first`
/// is its answer for the whole draft.
///
/// Each field of the draft is tried alone on the [`ground`], and each field of an object field
/// alone too: an error a field shows alone is kept, and the errors of its own fields replace
/// it. Then the errors between fields (a missing field, an end before the start): the draft
/// with every field at fault put back to the ground's (or left out) is checked again, until
/// it shows nothing new. Sorted by path.
fn by_field(
    draft: &Map<String, Value>,
    first: DraftError,
    check: impl Fn(&Map<String, Value>) -> Option<DraftError>,
) -> Vec<DraftError> {
    let ground = ground();
    let mut out: Vec<DraftError> = Vec::new();
    let add = |out: &mut Vec<DraftError>, e: DraftError| {
        let new = !out.contains(&e);
        if new {
            out.push(e);
        }
        new
    };
    for (key, value) in draft {
        let mut probe = ground.clone();
        probe.insert(key.clone(), value.clone());
        let Some(error) = check(&probe) else {
            continue;
        };
        let mut inner = Vec::new();
        if let Value::Object(fields) = value {
            for (sub, v) in fields.iter().filter(|_| fields.len() > 1) {
                let mut alone = Map::new();
                alone.insert(sub.clone(), v.clone());
                let mut probe = ground.clone();
                probe.insert(key.clone(), Value::Object(alone));
                match check(&probe) {
                    Some(e) if within(&e.path, &format!("{key}.{sub}")) => inner.push(e),
                    _ => {}
                }
            }
        }
        if inner.is_empty() {
            inner.push(error);
        }
        for e in inner {
            add(&mut out, e);
        }
    }
    add(&mut out, first);
    // Each round finds a new error or stops; there are at most as many as fields, and one more
    // for the draft as a whole.
    for _ in 0..=draft.len() {
        let mut repaired = draft.clone();
        for e in &out {
            let key = top_field(e);
            match ground.get(key) {
                Some(v) => repaired.insert(key.to_string(), v.clone()),
                None => repaired.remove(key),
            };
        }
        let found = check(&repaired).is_some_and(|e| add(&mut out, e));
        if !found {
            break;
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.message.cmp(&b.message)));
    out
}

/// The draft's field an error is about: `reward` of `reward.tiers[1].percent`, `id` of the
/// reader's "missing field `id`".
fn top_field(e: &DraftError) -> &str {
    if e.path == "$" {
        if let Some(field) = e
            .message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            return field;
        }
    }
    e.path.split(['.', '[']).next().unwrap_or(&e.path)
}

/// Whether `path` is `field` or inside it.
fn within(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

// ---------------------------------------------------------------------------------------------
// Approvers and conflicts
// ---------------------------------------------------------------------------------------------

/// The roles the root's rules send the draft to, each with its keys and whether they cover it.
fn approvers(root: &RootPayload, exposure: &Exposure, currency: &str) -> Vec<Approver> {
    root.approvals
        .roles_for(exposure, currency)
        .into_iter()
        .map(|role| {
            let keys: Vec<ApproverKey> = root
                .keys
                .iter()
                .filter(|k| k.roles.iter().any(|r| r == role))
                .map(|k| ApproverKey {
                    key_id: k.id.clone(),
                    covers: k.covers(exposure, currency),
                })
                .collect();
            let required = root.threshold(role);
            let covering = keys.iter().filter(|k| k.covers).count();
            Approver {
                role: role.to_string(),
                required,
                coverable: u32::try_from(covering).unwrap_or(u32::MAX) >= required,
                keys,
            }
        })
        .collect()
}

/// The promotions of the bundle live at some time with `id` that can discount the same thing.
fn conflicts(bundle: &Bundle, id: &str) -> Vec<Overlap> {
    let Some(draft) = analysis::promotion(bundle, id) else {
        return Vec::new();
    };
    draft
        .combinations()
        .into_iter()
        .filter_map(|(other, combination)| {
            let span = draft.live_together(&other)?;
            let target = draft.shared_target(&other)?;
            Some(Overlap {
                promotion_id: other.id().to_string(),
                name: other.name().to_string(),
                class: other.class(),
                live_together: LiveSpan {
                    start: span.start,
                    end: span.end,
                },
                target: target.into(),
                combination: Combination::from(&combination),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use promoseal_evaluator::seal::ApprovalPolicy;
    use serde_json::json;

    use super::*;
    use crate::lint::Severity;

    fn root(json: Value) -> RootPayload {
        serde_json::from_value(json).unwrap()
    }

    /// A review input in USD with no other promotion, no policy and no sample.
    fn input(draft: Value) -> ReviewInput {
        ReviewInput {
            draft,
            currency: "USD".into(),
            time_zone: None,
            pricing: PricingPolicy::default(),
            promotions: Vec::new(),
            code_sets: None,
            root: root(json!({"format": 1, "version": 1, "keys": []})),
            policy: Policy::default(),
            samples: Vec::new(),
        }
    }

    fn errors(input: &ReviewInput) -> Vec<(String, String)> {
        review(input)
            .unwrap()
            .errors
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    fn paths(input: &ReviewInput) -> Vec<String> {
        errors(input).into_iter().map(|(p, _)| p).collect()
    }

    /// examples/shop as `promoseal lint` reads it: settings, promotions sorted by id, the
    /// policy, the samples and the root's approval rules.
    fn shop() -> ReviewInput {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
        let text = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let config: toml::Table = toml::from_str(&text("promoseal.toml")).unwrap();
        let mut promotions: Vec<PromotionSpec> = std::fs::read_dir(dir.join("promotions"))
            .unwrap()
            .map(|e| toml::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap())
            .collect();
        promotions.sort_by(|a, b| a.id.cmp(&b.id));
        let policy: Policy = toml::from_str(&text("policy.toml")).unwrap();
        let samples = vec![Sample {
            name: "typical".into(),
            input: serde_json::from_str(&text("samples/typical.json")).unwrap(),
        }];
        ReviewInput {
            draft: Value::Null,
            currency: config["currency"].as_str().unwrap().into(),
            time_zone: config.get("timeZone").map(|z| z.as_str().unwrap().into()),
            pricing: config["pricing"].clone().try_into().unwrap(),
            promotions,
            code_sets: Some(vec!["spring".into(), "vip".into()]),
            root: serde_json::from_str(&text("root.json")).unwrap(),
            policy,
            samples,
        }
    }

    /// A review of `id` of the shop, given as a draft (JSON object) in place of itself.
    fn review_of(shop: &ReviewInput, id: &str) -> (PromotionSpec, Review) {
        let spec = shop.promotions.iter().find(|p| p.id == id).unwrap().clone();
        let input = ReviewInput {
            draft: serde_json::to_value(&spec).unwrap(),
            ..shop.clone()
        };
        (spec, review(&input).unwrap())
    }

    #[test]
    fn a_valid_draft_is_reviewed_whole() {
        let mut input = input(json!({
            "id": "tees-20", "name": "20% off tees", "items": {"categories": ["tees"]},
            "codeSet": "tee-codes", "reward": {"type": "percentOff", "percent": "20.0"},
            "limits": {"budget": "500", "totalUses": 100}
        }));
        input.policy = toml::from_str("maxPercent = \"15\"").unwrap();
        let r = review(&input).unwrap();
        assert_eq!(r.errors, Vec::new());
        assert_eq!(
            r.words,
            [
                "tees-20 — \"20% off tees\"",
                "gives: 20.0% off items in categories tees",
                "needs a code from set `tee-codes`",
                "runs: from now until no end date",
                "limits: 100 uses in all, budget 500 USD",
                "exposure: up to 20% off",
            ]
        );
        assert_eq!(
            r.exposure,
            Some(ExposureView {
                max_percent: Some("20".into()),
                max_amount: None,
                budget: Some("500.00".into()),
            })
        );
        let lint = r.lint.unwrap();
        assert_eq!(lint.violations, 1);
        assert_eq!(lint.promotions[0].findings[0].rule, "maxPercent");
        // The payload opens, with the code set the draft names holding the preview code.
        let payload = r.payload.unwrap();
        let bundle = Bundle::from_json(payload.as_bytes()).unwrap();
        assert_eq!(bundle.id(), DRAFT_BUNDLE_ID);
        let cart: EvaluationInput = serde_json::from_value(json!({
            "cart": {"currency": "USD", "lines": [
                {"id": "1", "sku": "TEE", "categories": ["tees"], "unitPrice": "20.00", "quantity": 1}]},
            "context": {"now": "2026-11-20T12:00:00Z", "codes": [PREVIEW_CODE]}
        }))
        .unwrap();
        let e = promoseal_evaluator::evaluate(&bundle, &cart).unwrap();
        assert_eq!(e.discount_total.to_string(), "4.00");
        // The same draft as JSON text, through `review_json`: the same review.
        let json = json!({
            "draft": serde_json::to_string(&input.draft).unwrap(),
            "currency": "USD",
            "root": {"format": 1, "version": 1, "keys": []},
            "policy": {"maxPercent": "15"}
        });
        let again = review_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(again, review(&input).unwrap());
    }

    #[test]
    fn the_ground_is_a_valid_promotion() {
        let spec = read(&ground()).unwrap();
        assert_eq!(compile_error(&input(Value::Null), &spec), None);
    }

    #[test]
    fn every_field_the_reader_refuses_is_named() {
        let input = input(json!({
            "id": "x", "name": 5, "colour": "red",
            "reward": {"type": "percentOff", "percent": 7},
            "conditions": {"minSubtotal": 5, "channels": "web", "regions": ["eu"]},
            "limits": {"budget": "10", "totalUses": -1}
        }));
        assert_eq!(
            paths(&input),
            [
                "colour",
                "conditions.channels",
                "conditions.minSubtotal",
                "limits.totalUses",
                "name",
                "reward",
            ]
        );
        let e = errors(&input);
        assert_eq!(e[3].1, "invalid value: integer `-1`, expected u64");
        assert!(e[0]
            .1
            .starts_with("unknown field `colour`, expected one of `id`"));
        assert_eq!(
            e[2].1,
            "invalid type: integer `5`, expected a decimal string such as \"19.99\""
        );
        // Nothing to describe or sign.
        let r = review(&input).unwrap();
        assert!(r.words.is_empty() && r.digest.is_none() && r.payload.is_none());
        // What the reader refuses does not hide what the evaluator refuses.
        let mixed = self::input(json!({"id": "x", "name": 3,
            "reward": {"type": "percentOff", "percent": "150"}}));
        assert_eq!(paths(&mixed), ["name", "reward.percent"]);
        let r = review(&input).unwrap();
        assert!(r.words.is_empty() && r.digest.is_none() && r.payload.is_none());
    }

    #[test]
    fn missing_fields_and_text_that_is_not_json() {
        assert_eq!(
            errors(&input(json!({"name": "x"}))),
            [
                ("$".to_string(), "missing field `id`".to_string()),
                ("$".to_string(), "missing field `reward`".to_string()),
            ]
        );
        assert_eq!(
            errors(&input(Value::from(r#"{"id": "x", "name"#))),
            [(
                "$".to_string(),
                "EOF while parsing a string at line 1 column 17".to_string()
            )]
        );
        // Duplicate keys in the text are the strict reader's.
        assert_eq!(
            errors(&input(Value::from(
                r#"{"id": "x", "id": "y", "name": "x", "reward": {"type": "percentOff", "percent": "1"}}"#
            ))),
            [("$".to_string(), "duplicate field `id`".to_string())]
        );
        assert_eq!(
            errors(&input(
                json!({"id": "x", "name": "x", "reward": {"type": "nope"}})
            ))[0]
                .0,
            "reward.type"
        );
    }

    #[test]
    fn terms_that_would_price_but_make_no_sense_are_named() {
        let draft = json!({
            "id": "x", "name": "  ",
            "items": {"categories": [], "skus": ["A"], "tags": []},
            "reward": {"type": "percentOff", "percent": "0"},
            "limits": {"totalUses": 0, "perCustomer": 0, "perDay": 3, "budget": "0.00"},
        });
        let paths: Vec<String> = errors(&input(draft)).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "items.categories",
                "items.tags",
                "limits.budget",
                "limits.perCustomer",
                "limits.totalUses",
                "name",
                "reward"
            ]
        );
        let long = "n".repeat(MAX_NAME + 1);
        let named = |name: &str| {
            errors(&input(json!({
                "id": "x", "name": name, "reward": {"type": "amountOff", "amount": "5", "per": "order"}
            })))
        };
        assert_eq!(named(&long)[0].1, "a name has at most 200 characters");
        assert_eq!(
            named("a\u{7}b")[0].1,
            "a name holds no control or text-direction characters"
        );
        // A right-to-left override would show `Sale gnp.exe` as `Sale exe.png`.
        assert_eq!(
            named("Sale \u{202E}gnp.exe")[0].1,
            "a name holds no control or text-direction characters"
        );
        assert_eq!(named("a\nb").len(), 1);
        assert_eq!(named(&"é".repeat(MAX_NAME)), []);
        // Conditions' lists and windows: empty, blank and repeated entries; a cap of 0; text
        // beyond its length. A description may hold lines.
        let e = errors(&input(json!({
            "id": "x", "name": "x",
            "items": {"categories": ["socks", " ", "socks"]},
            "conditions": {"customerSegments": [], "channels": ["web"]},
            "intervals": [],
            "maxDiscount": "0",
            "description": "d".repeat(MAX_DESCRIPTION + 1),
            "campaign": "c\u{2066}",
            "reward": {"type": "percentOff", "percent": "10"}
        })));
        assert_eq!(
            e.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            [
                "campaign",
                "conditions.customerSegments",
                "description",
                "intervals",
                "items.categories[1]",
                "items.categories[2]",
                "maxDiscount"
            ]
        );
        assert_eq!(e[5].1, "this name is listed twice");
        let e = errors(&input(json!({
            "id": "x", "name": "x", "description": "line one\nline two\twith a tab",
            "reward": {"type": "percentOff", "percent": "10"}
        })));
        assert_eq!(e, []);
        // A reward that sets a price, frees an item or ships free counts as taking something off.
        for reward in [
            json!({"type": "fixedPrice", "price": "5"}),
            json!({"type": "shippingOff", "percent": "100"}),
            json!({"type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1}),
        ] {
            let e = errors(&input(json!({"id": "x", "name": "x", "reward": reward})));
            assert_eq!(e, [], "{reward}");
        }
        let e = errors(&input(json!({
            "id": "x", "name": "x", "reward": {"type": "shippingOff", "percent": "0"}
        })));
        assert_eq!(
            e.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["reward"]
        );
    }

    #[test]
    fn every_value_the_evaluator_refuses_is_named() {
        let mut input = input(json!({
            "id": "", "name": "x",
            "startsAt": "2026-11-10T00:00:00Z", "endsAt": "2026-11-01T00:00:00Z",
            "codeSet": "nope",
            "reward": {"type": "percentOff", "percent": "150"},
            "conditions": {"minSubtotal": "5.555", "maxSubtotal": "100"},
            "loyaltyBonus": [{"tier": "gold", "percent": "101"}],
            "limits": {"budget": "1.234"}
        }));
        input.code_sets = Some(vec!["vip".into()]);
        assert_eq!(
            errors(&input),
            [
                ("codeSet", "unknown code set `nope`"),
                (
                    "conditions.minSubtotal",
                    "`5.555` has more decimal places than `USD` allows (2)"
                ),
                ("endsAt", "must be after `startsAt`"),
                (
                    "id",
                    "an id is 1 to 64 lower-case letters, digits, `-` or `_`, starting with a \
                     letter or digit"
                ),
                (
                    "limits.budget",
                    "`1.234` has more decimal places than `USD` allows (2)"
                ),
                ("loyaltyBonus[0].percent", "percentage `101` is above 100"),
                ("reward.percent", "percentage `150` is above 100"),
            ]
            .map(|(p, m)| (p.to_string(), m.to_string()))
        );
        // A draft the reader accepts is described and has a digest, errors and all; lint,
        // conflicts and the payload wait for a valid one.
        let r = review(&input).unwrap();
        assert_eq!(r.words[1], "gives: 150% off every item");
        assert!(r.digest.is_some() && r.lint.is_none() && r.payload.is_none());
        // Without the shop's code set ids, any code set is taken to exist.
        input.code_sets = None;
        assert!(!paths(&input).contains(&"codeSet".to_string()));
        // Deeper in the reward: the first error of the reward.
        let tiers = json!({"id": "t", "name": "t", "reward": {"type": "tiered", "basis": "spend",
            "tiers": [{"minSpend": "10", "percent": "5"}, {"minSpend": "20", "percent": "500"}]}});
        assert_eq!(paths(&self::input(tiers)), ["reward.tiers[1].percent"]);
    }

    #[test]
    fn approvers_follow_the_roots_rules_and_keys_limits() {
        let mut input = input(json!({
            "id": "d", "name": "d", "reward": {"type": "percentOff", "percent": "30"},
            "limits": {"budget": "2000"}
        }));
        input.root = root(json!({
            "format": 1, "version": 1,
            "keys": [
                {"id": "marketing-1", "publicKey": "", "roles": ["marketing"]},
                {"id": "finance-1", "publicKey": "", "roles": ["finance"],
                 "limits": {"maxPercent": "25", "maxBudget": {"USD": "5000"}}},
                {"id": "finance-2", "publicKey": "", "roles": ["finance", "marketing"],
                 "limits": {"maxPercent": "50", "maxBudget": {"USD": "5000"}}},
                {"id": "release-1", "publicKey": "", "roles": ["release"]}
            ],
            "thresholds": {"finance": 2},
            "approvals": {"required": ["marketing"], "rules": [
                {"role": "finance", "percentAbove": "20", "budgetAbove": {"USD": "10000"}},
                {"role": "legal", "amountAbove": {"USD": "50"}}
            ]}
        }));
        let key = |id: &str, covers: bool| ApproverKey {
            key_id: id.into(),
            covers,
        };
        let r = review(&input).unwrap();
        assert_eq!(
            r.approvers,
            [
                Approver {
                    role: "marketing".into(),
                    required: 1,
                    keys: vec![key("marketing-1", true), key("finance-2", true)],
                    coverable: true,
                },
                Approver {
                    role: "finance".into(),
                    required: 2,
                    keys: vec![key("finance-1", false), key("finance-2", true)],
                    coverable: false,
                },
            ]
        );
        // The same as the core's own rules say, for the same exposure.
        let spec: PromotionSpec = serde_json::from_value(input.draft.clone()).unwrap();
        let exposure = Exposure::of(&spec);
        let roles: Vec<&str> = r.approvers.iter().map(|a| a.role.as_str()).collect();
        assert_eq!(roles, input.root.approvals.roles_for(&exposure, "USD"));
        // A fixed amount above 50 USD: legal, whom no key serves. With a budget within the
        // rule, not finance; without one (no bound), finance too, and no finance key covers it
        // (each has a budget limit).
        let roles = |input: &ReviewInput| -> Vec<(String, bool)> {
            review(input)
                .unwrap()
                .approvers
                .iter()
                .map(|a| (a.role.clone(), a.coverable))
                .collect()
        };
        input.draft = json!({"id": "d", "name": "d", "limits": {"budget": "2000"},
            "reward": {"type": "amountOff", "amount": "60", "per": "order"}});
        assert_eq!(
            roles(&input),
            [("marketing".into(), true), ("legal".into(), false)]
        );
        input.draft = json!({"id": "d", "name": "d", "reward": {"type": "amountOff", "amount": "60", "per": "order"}});
        assert_eq!(
            roles(&input),
            [
                ("marketing".into(), true),
                ("finance".into(), false),
                ("legal".into(), false)
            ]
        );
        input.root.approvals = ApprovalPolicy::default();
        assert_eq!(review(&input).unwrap().approvers, []);
    }

    #[test]
    fn the_digest_is_the_approval_digest() {
        let shop = shop();
        for spec in &shop.promotions {
            let (spec, r) = review_of(&shop, &spec.id);
            assert_eq!(
                r.digest.as_deref(),
                Some(encode_hex(&approval_digest("USD", &spec)).as_str())
            );
        }
        // What `promoseal approve --promotion vip-shoes` shows for examples/shop (its code set
        // is left out of the digest).
        let (_, r) = review_of(&shop, "vip-shoes");
        assert_eq!(
            r.digest.as_deref(),
            Some("ee8782f03264d0f25288ebfd8298fb329caea7f237da2a841836f2bc32125c62")
        );
        assert_eq!(
            r.words,
            [
                "vip-shoes — \"30% off running shoes for VIPs\"",
                "gives: 30% off items in categories shoes",
                "needs a code from set `vip`",
                "runs: from now until no end date",
                "limits: 1 per customer, budget 5000 USD",
                "stacking: combines with order, shipping discounts",
                "exposure: up to 30% off",
            ]
        );
        // examples/shop's root sends 30 % to finance too.
        let roles: Vec<&str> = r.approvers.iter().map(|a| a.role.as_str()).collect();
        assert_eq!(roles, ["marketing", "finance"]);
    }

    #[test]
    fn lint_is_what_promoseal_lint_reports() {
        let shop = shop();
        let pricing = shop.pricing.clone();
        let samples: Vec<(String, EvaluationInput)> = shop
            .samples
            .iter()
            .map(|s| (s.name.clone(), s.input.clone()))
            .collect();
        let whole = lint::lint(
            &LintInput {
                currency: "USD",
                pricing: &pricing,
                promotions: &shop.promotions,
                samples: &samples,
            },
            &shop.policy,
        )
        .unwrap();
        for (i, p) in shop.promotions.iter().enumerate() {
            let (_, r) = review_of(&shop, &p.id);
            let report = r.lint.unwrap();
            let mut expected = whole.promotions[i].clone();
            expected.findings = whole
                .findings()
                .filter(|f| f.promotion_id == p.id || f.related.contains(&p.id))
                .cloned()
                .collect();
            assert_eq!(report.promotions, [expected], "{}", p.id);
        }
        // The figures `promoseal lint --project examples/shop` prints.
        let (_, r) = review_of(&shop, "vip-shoes");
        let text = r.lint.unwrap().to_string();
        assert!(
            text.contains(
                "projected cost: 18000.00 USD for 500 redemptions (average 36.00 USD per \
                 redemption, over the 1 of 1 sample carts it applied to)"
            ),
            "{text}"
        );
        assert!(
            text.contains("the discount eats 55.38% of the margin on the targeted items"),
            "{text}"
        );
        let (_, r) = review_of(&shop, "tees-15");
        let lint = r.lint.unwrap();
        assert_eq!((lint.violations, lint.warnings), (1, 0));
        assert_eq!(lint.promotions[0].findings[0].rule, "maxPercent");
        assert_eq!(lint.promotions[0].findings[0].severity, Severity::Violation);
    }

    #[test]
    fn a_new_draft_among_the_shops_promotions() {
        let mut shop = shop();
        shop.draft = json!({
            "id": "socks-15", "name": "15% off socks", "items": {"categories": ["socks"]},
            "reward": {"type": "percentOff", "percent": "15"},
            "stacking": {"combinesWith": ["product", "order"]}, "limits": {"budget": "500"}
        });
        let r = review(&shop).unwrap();
        assert_eq!(r.errors, []);
        let met: Vec<(&str, &Combination)> = r
            .conflicts
            .iter()
            .map(|o| (o.promotion_id.as_str(), &o.combination))
            .collect();
        // Application order: priority, then id. The order discounts target every item and
        // stack with it; socks-10, a product discount on socks too, does not take product
        // discounts: both apply only on different lines. socks-2-off names a SKU, free
        // shipping no item.
        assert_eq!(
            met,
            [
                ("members-5", &Combination::Combines),
                ("socks-10", &Combination::DisjointLinesOnly),
                ("spring-5", &Combination::Combines),
            ]
        );
        let socks = r
            .conflicts
            .iter()
            .find(|o| o.promotion_id == "socks-10")
            .unwrap();
        assert_eq!(
            socks.target,
            SharedTarget::Named {
                dimension: Dimension::Category,
                value: "socks".into()
            }
        );
        assert_eq!(
            socks.live_together,
            LiveSpan {
                start: None,
                end: None
            }
        );
        // Exclusive (and combining with nothing), it never meets members-5 on a cart.
        let mut exclusive = shop.clone();
        exclusive.draft["stacking"] = json!({"exclusive": true});
        let r2 = review(&exclusive).unwrap();
        assert_eq!(r2.conflicts[0].promotion_id, "members-5");
        assert_eq!(
            r2.conflicts[0].combination,
            Combination::Never {
                conflicts: vec![
                    Conflict::Exclusive {
                        promotion: "socks-15".into()
                    },
                    Conflict::ClassRefused {
                        promotion: "socks-15".into(),
                        class: DiscountClass::Order
                    },
                ]
            }
        );
        // 15 % of the 27.00 of socks in the sample.
        let lint = r.lint.unwrap();
        let projection = lint.promotions[0].projection.as_ref().unwrap();
        assert_eq!(projection.average_discount.to_string(), "4.05");
        // The payload holds the shop's ten promotions and the draft, sorted by id.
        let payload: BundlePayload = serde_json::from_str(&r.payload.unwrap()).unwrap();
        let ids: Vec<&str> = payload.promotions.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 11);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(payload.time_zone.as_deref(), Some("America/New_York"));
    }

    #[test]
    fn the_input_around_the_draft_is_checked() {
        let draft =
            json!({"id": "d", "name": "d", "reward": {"type": "percentOff", "percent": "5"}});
        let mut bad = input(draft.clone());
        bad.currency = "XXX".into();
        let e = review(&bad).unwrap_err();
        assert_eq!(e.to_string(), "input: currency: unknown currency `XXX`");
        assert_eq!(e.field().unwrap().path, "currency");
        let mut bad = input(draft.clone());
        bad.code_sets = Some(vec!["vip".into(), "vip".into()]);
        let e = review(&bad).unwrap_err();
        assert_eq!(e.field().unwrap().path, "codeSets[1]");
        let mut bad = input(draft.clone());
        bad.policy = toml::from_str("maxPercent = \"150\"").unwrap();
        let e = review(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "input: policy.maxPercent: `150` is above 100"
        );
        assert_eq!(e.field().unwrap().path, "policy.maxPercent");
        // A current promotion the evaluator refuses is the shop's problem, named as lint does.
        let mut bad = input(draft.clone());
        bad.promotions = vec![serde_json::from_value(
            json!({"id": "old", "name": "o", "reward": {"type": "percentOff", "percent": "101"}}),
        )
        .unwrap()];
        assert_eq!(
            review(&bad).unwrap_err().to_string(),
            "input: promotion `old`: bundle: promotions[0].reward.percent: percentage `101` is \
             above 100"
        );
        // JSON of the wrong shape, by path.
        let e = review_json(br#"{"draft": {}, "currency": "USD", "root": {"format": 1, "version": 1, "keys": []}, "samples": [{"name": "s", "input": {"cart": {}}}]}"#)
            .unwrap_err();
        assert_eq!(e.field().unwrap().path, "samples[0].input.cart");
        assert_eq!(
            e.to_string(),
            "input: samples[0].input.cart: missing field `currency`"
        );
    }

    #[test]
    fn a_draft_replaces_the_promotion_it_edits() {
        let mut shop = shop();
        let mut spec = shop
            .promotions
            .iter()
            .find(|p| p.id == "socks-10")
            .unwrap()
            .clone();
        spec.name = "12% off socks".into();
        spec.reward =
            serde_json::from_value(json!({"type": "percentOff", "percent": "12"})).unwrap();
        shop.draft = serde_json::to_value(&spec).unwrap();
        let r = review(&shop).unwrap();
        assert_eq!(r.errors, []);
        let payload: BundlePayload = serde_json::from_str(&r.payload.unwrap()).unwrap();
        assert_eq!(payload.promotions.len(), 10);
        let edited = payload
            .promotions
            .iter()
            .find(|p| p.id == "socks-10")
            .unwrap();
        assert_eq!(edited.name, "12% off socks");
        assert_eq!(r.lint.unwrap().promotions[0].name, "12% off socks");
    }

    #[test]
    fn an_id_names_files_so_it_is_lower_case_letters_digits_dashes() {
        for good in ["running-10", "a", "vip_2026", &"x".repeat(MAX_ID)] {
            assert!(id_error(good).is_none(), "{good}");
        }
        for bad in [
            "Running",
            "-lead",
            "a b",
            "a/b",
            "ü",
            &"x".repeat(MAX_ID + 1),
        ] {
            assert_eq!(
                id_error(bad).map(|e| e.path),
                Some("id".to_string()),
                "{bad}"
            );
        }
    }
}
