//! Lint: checks promotions against a house policy (how deep, how long, how costly they may be,
//! and how they stack) and projects what each one costs on sample carts. `promoseal lint` prints
//! its [`Report`]; the console's review ([`crate::review`]) shows the part about a draft.
//!
//! Everything here is a pure function of already-loaded data; reading files (the policy is TOML
//! in a project, JSON in the console), printing and the exit code are the caller's business.

use std::fmt;

use promoseal_evaluator::analysis::{
    self, Combination, ConditionsSummary, Item, PercentBasis, PromotionView, SharedTarget, Span,
};
use promoseal_evaluator::model::{
    Audience, BundlePayload, CodeSetSpec, DiscountClass, PricingPolicy, PromotionSpec,
    FORMAT_VERSION,
};
use promoseal_evaluator::money::{div_round, Amount, Currency, DecimalString, Rounding};
// The tests read the declared exposure of promotions (what approvals measure).
#[cfg(test)]
use promoseal_evaluator::seal::Exposure;
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, Bundle, BundleError, EvaluationInput};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

/// The house rules a bundle's promotions are checked against: TOML in a project
/// (`policy.toml`), JSON in the console, the same keys in both. Every field is optional; an
/// absent limit is not checked. Read it with serde, then check it (`Policy::check`).
///
/// ```toml
/// maxPercent = "30"          # no promotion may take more than 30 % off
/// maxAmount = "50.00"        # nor more than 50.00 (bundle currency) as a fixed amount
/// maxBudget = "100000"       # every promotion needs a budget of at most this
/// maxDurationDays = 45       # startsAt..endsAt at most 45 days (no end: a violation)
/// forbidOverlap = true       # stacking overlaps are violations, not warnings
///
/// [projection]
/// expectedRedemptions = 5000 # per promotion (default 1000)
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// Deepest percentage a promotion may grant (decimal string, 0 to 100).
    #[serde(default, with = "some_decimal")]
    #[cfg_attr(feature = "ts", ts(optional, type = "DecimalString | number"))]
    pub max_percent: Option<Decimal>,
    /// Largest fixed amount a promotion may grant, in the bundle currency.
    #[serde(default, with = "some_decimal")]
    #[cfg_attr(feature = "ts", ts(optional, type = "DecimalString | number"))]
    pub max_amount: Option<Decimal>,
    /// Largest budget; a promotion without a budget then violates it (its spend is unbounded).
    #[serde(default, with = "some_decimal")]
    #[cfg_attr(feature = "ts", ts(optional, type = "DecimalString | number"))]
    pub max_budget: Option<Decimal>,
    /// Longest run from `startsAt` to `endsAt`; a promotion missing either violates it.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub max_duration_days: Option<u64>,
    /// Report promotions that can stack on the same items as violations (default: warnings).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub forbid_overlap: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub projection: ProjectionPolicy,
}

/// `[projection]`: how the cost projection scales the sample carts.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectionPolicy {
    /// Redemptions expected per promotion (default 1000).
    #[serde(default = "default_redemptions")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub expected_redemptions: u64,
}

fn default_redemptions() -> u64 {
    1000
}

impl Default for ProjectionPolicy {
    fn default() -> Self {
        ProjectionPolicy {
            expected_redemptions: default_redemptions(),
        }
    }
}

/// A decimal limit: a decimal string such as `"12.5"`, or a whole number. Never a float.
mod some_decimal {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string such as \"12.5\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                DecimalString::parse(v).map(|d| d.0).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
                if v < 0 {
                    return Err(E::custom(format!("`{v}` is negative")));
                }
                Ok(Decimal::from(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal::from(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
                Err(E::custom(format!(
                    "write `{v}` as a string, \"{v}\": limits are exact decimals, never floats"
                )))
            }
        }
        d.deserialize_any(Visitor).map(Some)
    }
}

/// A policy serde reads but lint cannot apply.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("maxPercent: `{0}` is above 100")]
    PercentAbove100(Decimal),
}

impl PolicyError {
    /// The key at fault (`maxPercent`).
    pub fn field(&self) -> &'static str {
        match self {
            PolicyError::PercentAbove100(_) => "maxPercent",
        }
    }
}

impl Policy {
    /// Checks what serde cannot (unknown keys, floats and negative limits are refused while
    /// reading): `maxPercent` is at most 100.
    pub fn check(&self) -> Result<(), PolicyError> {
        match self.max_percent {
            Some(p) if p > Decimal::ONE_HUNDRED => Err(PolicyError::PercentAbove100(p)),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why promotions cannot be linted. The messages are `promoseal lint`'s.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LintError {
    #[error("unknown currency `{0}`")]
    UnknownCurrency(String),
    /// A promotion the evaluator refuses, compiled alone (its path is `promotions[0]…`).
    #[error("promotion `{promotion}`: {error}")]
    Promotion {
        promotion: String,
        error: BundleError,
    },
    /// Promotions the evaluator refuses together, though each compiles alone.
    #[error("{0}")]
    Bundle(BundleError),
    /// Asked about a promotion that is not among those linted.
    #[error("no promotion `{0}` among those linted")]
    Missing(String),
    #[error("projecting promotion `{promotion}`: {error}")]
    Projection {
        promotion: String,
        error: ProjectionError,
    },
}

/// Why the cost of one promotion cannot be projected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProjectionError {
    #[error("{0}")]
    Bundle(BundleError),
    /// A sample cart the evaluator refuses (its currency, its fields, an overflow).
    #[error("sample `{sample}`: {error}")]
    Sample {
        sample: String,
        error: Box<promoseal_evaluator::Error>,
    },
    #[error("projected spend is too large")]
    TooLarge,
    #[error("amount out of range")]
    OutOfRange,
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Breaks the policy: the caller should fail.
    Violation,
    /// Probably a mistake, worth a look.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Violation => "violation",
            Severity::Warning => "warning",
        })
    }
}

/// One thing lint found about a promotion (or a pair of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub promotion_id: String,
    /// The rule: `maxPercent`, `maxAmount`, `maxBudget`, `maxDurationDays`, `codeWithoutLimit`,
    /// `exclusiveCombines`, `groupPriorityTie` or `overlap`.
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Other promotions the finding is about (stacking rules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub related: Vec<String>,
}

/// The most a promotion can take off, as printed: percentages without trailing zeros, money
/// with the currency's places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct ExposureView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
}

/// What a promotion costs on the sample carts, evaluated alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub samples: usize,
    /// Samples the promotion took something off (the redemptions).
    pub redemptions: usize,
    /// Mean discount over the redemptions, rounded half up to the currency's places.
    pub average_discount: Amount,
    pub expected_redemptions: u64,
    /// `sum of discounts × expectedRedemptions ÷ redemptions`, rounded once.
    pub projected_spend: Amount,
    /// The promotion's budget (`limits.budget`) when the projected spend is above it: the
    /// ledger stops the promotion there, so it is what the promotion can cost at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_caps_at: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_case: Option<WorstCase>,
    /// Present when every targeted line of every redeeming sample gives a `unitCost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<MarginImpact>,
}

/// The sample cart a promotion takes the most off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct WorstCase {
    pub sample: String,
    pub discount: Amount,
}

/// The discount against the margin of the targeted lines before the promotion, summed over the
/// redeeming samples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct MarginImpact {
    /// Targeted line amounts before the promotion (in the price basis).
    pub revenue: Amount,
    pub cost: Amount,
    pub discount: Amount,
    /// `discount ÷ (revenue − cost) × 100`, two places; absent when there is no margin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_margin: Option<String>,
}

/// What lint says about one promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct PromotionReport {
    pub id: String,
    pub name: String,
    pub class: DiscountClass,
    pub exposure: ExposureView,
    /// Absent when no sample carts were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection: Option<Projection>,
    pub findings: Vec<Finding>,
}

/// What lint says: the findings of every promotion linted, its exposure and projected cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub currency: String,
    pub violations: usize,
    pub warnings: usize,
    pub promotions: Vec<PromotionReport>,
}

impl Report {
    /// Findings that break the policy (a non-zero exit, for the caller).
    pub fn violations(&self) -> usize {
        self.count(Severity::Violation)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings().filter(|f| f.severity == severity).count()
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.promotions.iter().flat_map(|p| p.findings.iter())
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} in {}: {}, {}",
            plural(self.promotions.len(), "promotion", "promotions"),
            self.currency,
            plural(self.violations(), "violation", "violations"),
            plural(self.warnings(), "warning", "warnings"),
        )?;
        for p in &self.promotions {
            writeln!(f)?;
            writeln!(f, "{} ({}, {} discount)", p.id, p.name, class_name(p.class))?;
            let e = &p.exposure;
            let mut parts = Vec::new();
            parts.push(match &e.max_percent {
                Some(x) => format!("up to {x}% off"),
                None => "no percentage".to_string(),
            });
            parts.push(match &e.max_amount {
                Some(x) => format!("up to {x} {} off", self.currency),
                None => "no fixed amount".to_string(),
            });
            parts.push(match &e.budget {
                Some(x) => format!("budget {x} {}", self.currency),
                None => "no budget".to_string(),
            });
            writeln!(f, "  exposure: {}", parts.join("; "))?;
            match &p.projection {
                None => writeln!(f, "  projected cost: no sample carts given")?,
                Some(pr) if pr.redemptions == 0 => writeln!(
                    f,
                    "  projected cost: 0, it took nothing off any of the {}",
                    plural(pr.samples, "sample cart", "sample carts")
                )?,
                Some(pr) => {
                    writeln!(
                        f,
                        "  projected cost: {} {cur} for {} (average {} {cur} per redemption, \
                         over the {} of {} sample carts it applied to)",
                        pr.projected_spend,
                        plural(
                            usize::try_from(pr.expected_redemptions).unwrap_or(usize::MAX),
                            "redemption",
                            "redemptions"
                        ),
                        pr.average_discount,
                        pr.redemptions,
                        pr.samples,
                        cur = self.currency,
                    )?;
                    if let Some(cap) = &pr.budget_caps_at {
                        writeln!(
                            f,
                            "  budget: the ledger stops it at {cap} {cur} (limits.budget), below \
                             the projected cost",
                            cur = self.currency,
                        )?;
                    }
                    if let Some(w) = &pr.worst_case {
                        writeln!(
                            f,
                            "  worst case: {} {} off sample `{}`",
                            w.discount, self.currency, w.sample
                        )?;
                    }
                    match &pr.margin {
                        Some(m) => match &m.percent_of_margin {
                            Some(x) => writeln!(
                                f,
                                "  margin impact: the discount eats {x}% of the margin on the \
                                 targeted items (revenue {}, cost {}, discount {})",
                                m.revenue, m.cost, m.discount
                            )?,
                            None => writeln!(
                                f,
                                "  margin impact: the targeted items already sell at or below \
                                 cost (revenue {}, cost {})",
                                m.revenue, m.cost
                            )?,
                        },
                        None => writeln!(
                            f,
                            "  margin impact: unknown (not every targeted sample line has a \
                             unitCost)"
                        )?,
                    }
                }
            }
            if p.findings.is_empty() {
                writeln!(f, "  no findings")?;
            }
            for finding in &p.findings {
                writeln!(
                    f,
                    "  {} [{}]: {}",
                    finding.severity, finding.rule, finding.message
                )?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Lint
// ---------------------------------------------------------------------------------------------

/// What is linted: the bundle's currency, pricing and promotions, and named sample carts.
pub struct LintInput<'a> {
    pub currency: &'a str,
    pub pricing: &'a PricingPolicy,
    pub promotions: &'a [PromotionSpec],
    /// Name and cart of each sample.
    pub samples: &'a [(String, EvaluationInput)],
}

/// Checks every promotion against `policy` and projects its cost on the samples.
///
/// The promotions are compiled into one bundle, and what they are (class, exposure, schedule,
/// what they target, what they combine with) is asked of the evaluator's
/// [`analysis`](promoseal_evaluator::analysis): lint applies the policy to the answers.
pub fn lint(input: &LintInput, policy: &Policy) -> Result<Report, LintError> {
    run(input, policy, None)
}

/// What [`lint`] says about promotion `id` among the others: a report holding only its
/// [`PromotionReport`], whose findings are every finding of [`lint`]'s report about it: its
/// own, then those about a pair it is in, in [`lint`]'s order. A pair finding keeps the
/// `promotionId` [`lint`] reports it on (the first of the pair in input order), so it may name
/// the other promotion, with `related` naming this one. The other promotions' own findings and
/// projections are not computed.
pub fn lint_promotion(input: &LintInput, policy: &Policy, id: &str) -> Result<Report, LintError> {
    run(input, policy, Some(id))
}

/// Whether the promotions compile, together and in the shop's currency: what [`lint`] checks
/// before it measures anything, and what `promoseal approve` checks before it signs.
pub fn check(input: &LintInput) -> Result<(), LintError> {
    let currency = Currency::from_code(input.currency)
        .ok_or_else(|| LintError::UnknownCurrency(input.currency.to_string()))?;
    compile_all(input, currency).map(|_| ())
}

/// [`lint`] of every promotion, or of `only` among the others.
fn run(input: &LintInput, policy: &Policy, only: Option<&str>) -> Result<Report, LintError> {
    let currency = Currency::from_code(input.currency)
        .ok_or_else(|| LintError::UnknownCurrency(input.currency.to_string()))?;
    let bundle = compile_all(input, currency)?;
    let views = input
        .promotions
        .iter()
        .map(|p| {
            analysis::promotion(&bundle, &p.id).ok_or_else(|| LintError::Missing(p.id.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let only = match only {
        None => None,
        Some(id) => Some(
            input
                .promotions
                .iter()
                .position(|p| p.id == id)
                .ok_or_else(|| LintError::Missing(id.to_string()))?,
        ),
    };
    let mut reports = Vec::with_capacity(if only.is_some() {
        1
    } else {
        input.promotions.len()
    });
    for (i, (p, view)) in input.promotions.iter().zip(&views).enumerate() {
        if only.is_some_and(|k| k != i) {
            continue;
        }
        let exposure = view.exposure();
        let findings = single_findings(p, view, &exposure, policy, currency);
        let projection = if input.samples.is_empty() {
            None
        } else {
            Some(
                project(
                    p,
                    view,
                    input,
                    currency,
                    policy.projection.expected_redemptions,
                )
                .map_err(|error| LintError::Projection {
                    promotion: p.id.clone(),
                    error,
                })?,
            )
        };
        reports.push(PromotionReport {
            id: p.id.clone(),
            name: p.name.clone(),
            class: view.class(),
            exposure: ExposureView {
                max_percent: exposure.max_percent.map(|x| x.format()),
                max_amount: exposure.max_amount.map(|x| x.to_string()),
                budget: exposure.budget.map(|x| x.to_string()),
            },
            projection,
            findings,
        });
    }
    for (i, finding) in pair_findings(&views, policy, only) {
        // With `only`, every pair finding is about that promotion: its report holds them all.
        let slot = if only.is_some() { 0 } else { i };
        if let Some(r) = reports.get_mut(slot) {
            r.findings.push(finding);
        }
    }
    let mut report = Report {
        currency: currency.code().to_string(),
        violations: 0,
        warnings: 0,
        promotions: reports,
    };
    report.violations = report.violations();
    report.warnings = report.warnings();
    Ok(report)
}

/// The code entered on the samples for a promotion behind a code set.
const PROBE_CODE: &str = "PROMOSEAL-LINT-PROBE";

/// A bundle of `promotions`, valid from `issued_at` to `expires_at`, each code set they name
/// holding only [`PROBE_CODE`].
fn compile(
    input: &LintInput,
    currency: Currency,
    bundle_id: String,
    promotions: &[PromotionSpec],
    (issued_at, expires_at): (Instant, Instant),
) -> Result<Bundle, BundleError> {
    let mut code_sets: Vec<CodeSetSpec> = Vec::new();
    for id in promotions.iter().filter_map(|p| p.code_set.as_ref()) {
        if !code_sets.iter().any(|c| c.id == *id) {
            code_sets.push(CodeSetSpec {
                id: id.clone(),
                codes: vec![PROBE_CODE.to_string()],
                hashes: None,
                generated: None,
                active: true,
            });
        }
    }
    let payload = BundlePayload {
        format: FORMAT_VERSION,
        bundle_id,
        audience: Audience::Edge,
        version: 1,
        issued_at,
        expires_at,
        currency: currency.code().to_string(),
        time_zone: None,
        pricing: input.pricing.clone(),
        code_sets,
        promotions: promotions.to_vec(),
        approvals: Vec::new(),
    };
    Bundle::compile(&payload)
}

/// Every promotion in one bundle, for the analysis; an invalid promotion is named.
fn compile_all(input: &LintInput, currency: Currency) -> Result<Bundle, LintError> {
    let always = (Instant(0), Instant(i64::MAX));
    compile(input, currency, "lint".into(), input.promotions, always).map_err(|e| {
        input
            .promotions
            .iter()
            .find_map(|p| {
                let alone = compile(
                    input,
                    currency,
                    "lint".into(),
                    std::slice::from_ref(p),
                    always,
                );
                alone.err().map(|error| LintError::Promotion {
                    promotion: p.id.clone(),
                    error,
                })
            })
            .unwrap_or(LintError::Bundle(e))
    })
}

/// A decimal amount with the currency's places when it has no more than those.
pub(crate) fn money(d: Decimal, currency: Currency) -> String {
    let mut d = d;
    if d.scale() <= currency.exponent() {
        d.rescale(currency.exponent());
    }
    d.to_string()
}

fn decimal(x: Amount) -> Decimal {
    Decimal::new(x.minor(), x.exponent())
}

fn class_name(c: DiscountClass) -> &'static str {
    match c {
        DiscountClass::Product => "product",
        DiscountClass::Order => "order",
        DiscountClass::Shipping => "shipping",
    }
}

fn finding(id: &str, rule: &'static str, severity: Severity, message: String) -> Finding {
    Finding {
        promotion_id: id.to_string(),
        rule,
        severity,
        message,
        related: Vec::new(),
    }
}

const DAY: i64 = 86_400;

/// Findings about one promotion alone.
fn single_findings(
    p: &PromotionSpec,
    view: &PromotionView,
    e: &analysis::Exposure,
    policy: &Policy,
    currency: Currency,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let cur = currency.code();
    let id = p.id.as_str();
    let max_percent = e
        .max_percent
        .map(|x| Decimal::from_i128_with_scale(i128::from(x.units()), 6).normalize());
    if let (Some(limit), Some(x)) = (policy.max_percent, max_percent) {
        if x > limit {
            let why = match e.percent_basis {
                Some(PercentBasis::SetPrice) => {
                    " (a set price counts as 100%: it may be far below the item's price)"
                }
                Some(PercentBasis::UnitPriceTier) => {
                    " (a unitPrice tier counts as 100%: it may be far below the item's price)"
                }
                Some(PercentBasis::FreeItem) => " (the free item is 100% off)",
                Some(PercentBasis::ShippingAmount) => {
                    " (an amount off shipping can be all of the shipping)"
                }
                _ if !view.loyalty_bonus().is_empty() => " (loyalty bonus included)",
                _ => "",
            };
            out.push(finding(
                id,
                "maxPercent",
                Severity::Violation,
                format!(
                    "it can take up to {x}% off{why}, more than the policy's maximum of \
                     {}%",
                    limit.normalize()
                ),
            ));
        }
    }
    if let (Some(limit), Some(x)) = (policy.max_amount, e.max_amount) {
        if decimal(x) > limit {
            out.push(finding(
                id,
                "maxAmount",
                Severity::Violation,
                format!(
                    "it can take {x} {cur} off, more than the policy's maximum of {} {cur}",
                    money(limit, currency)
                ),
            ));
        }
    }
    if let Some(limit) = policy.max_budget {
        match e.budget {
            Some(b) if decimal(b) > limit => out.push(finding(
                id,
                "maxBudget",
                Severity::Violation,
                format!(
                    "its budget of {b} {cur} is above the policy's maximum of {} {cur}",
                    money(limit, currency)
                ),
            )),
            Some(_) => {}
            None => out.push(finding(
                id,
                "maxBudget",
                Severity::Violation,
                format!(
                    "it has no budget (limits.budget), so what it can spend is unbounded; the \
                     policy allows at most {} {cur}",
                    money(limit, currency)
                ),
            )),
        }
    }
    if let Some(days) = policy.max_duration_days {
        let limit = i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(DAY);
        let message = match (p.starts_at, p.ends_at) {
            (_, None) => Some(format!(
                "it has no end date (endsAt), so it runs without limit; the policy allows at \
                 most {}",
                plural(usize::try_from(days).unwrap_or(usize::MAX), "day", "days")
            )),
            (None, Some(_)) => Some(format!(
                "it has no start date (startsAt), so its length is unbounded; the policy allows \
                 at most {}",
                plural(usize::try_from(days).unwrap_or(usize::MAX), "day", "days")
            )),
            (Some(s), Some(end)) => {
                let length = end.seconds().saturating_sub(s.seconds());
                (length > limit).then(|| {
                    format!(
                        "it runs {} ({s} to {end}), longer than the policy's maximum of {}",
                        duration_words(length),
                        plural(usize::try_from(days).unwrap_or(usize::MAX), "day", "days")
                    )
                })
            }
        };
        if let Some(message) = message {
            out.push(finding(id, "maxDurationDays", Severity::Violation, message));
        }
    }
    if p.code_set.is_some()
        && p.limits.budget.is_none()
        && p.limits.total_uses.is_none()
        && !p.limits.single_use_codes
    {
        out.push(finding(
            id,
            "codeWithoutLimit",
            Severity::Warning,
            "it needs a code but has neither a budget nor a totalUses limit (nor single-use \
             codes): a leaked code can be redeemed without end"
                .to_string(),
        ));
    }
    // What the author wrote, in the order written: the evaluator ignores `combinesWith` of an
    // exclusive promotion.
    if p.stacking.exclusive && !p.stacking.combines_with.is_empty() {
        let classes: Vec<&str> = p
            .stacking
            .combines_with
            .iter()
            .map(|c| class_name(*c))
            .collect();
        out.push(finding(
            id,
            "exclusiveCombines",
            Severity::Warning,
            format!(
                "it is exclusive, yet lists combinesWith [{}]: exclusive wins and it never \
                 combines with anything; drop one of the two",
                classes.join(", ")
            ),
        ));
    }
    out
}

fn duration_words(seconds: i64) -> String {
    let days = seconds / DAY;
    let rest = seconds % DAY;
    let n = usize::try_from(days).unwrap_or(usize::MAX);
    if rest == 0 {
        plural(n, "day", "days")
    } else {
        format!("more than {}", plural(n, "day", "days"))
    }
}

fn span_words(span: Span) -> String {
    match (span.start, span.end) {
        (None, None) => "always".to_string(),
        (None, Some(e)) => format!("until {e}"),
        (Some(s), None) => format!("from {s} on"),
        (Some(s), Some(e)) => format!("from {s} until {e}"),
    }
}

// --- stacking -------------------------------------------------------------------------------

/// Whether the two can never both be eligible for one cart because their conditions exclude
/// each other. A lint heuristic, stricter than the evaluator: it also takes disjoint customer
/// segments and subtotal ranges as exclusive (a customer can be in several segments, and each
/// promotion measures the subtotal of its own targeted lines).
fn conditions_exclude(a: &ConditionsSummary, b: &ConditionsSummary) -> bool {
    let disjoint =
        |x: &[&str], y: &[&str]| !x.is_empty() && !y.is_empty() && !x.iter().any(|v| y.contains(v));
    let first_order = matches!((a.first_order, b.first_order), (Some(x), Some(y)) if x != y);
    let below = |hi: Option<Amount>, lo: Option<Amount>| matches!((hi, lo), (Some(h), Some(l)) if h.minor() < l.minor());
    disjoint(&a.customer_tiers, &b.customer_tiers)
        || disjoint(&a.customer_segments, &b.customer_segments)
        || disjoint(&a.regions, &b.regions)
        || disjoint(&a.channels, &b.channels)
        || first_order
        || below(a.max_subtotal, b.min_subtotal)
        || below(b.max_subtotal, a.min_subtotal)
}

fn target_words(target: SharedTarget) -> String {
    match target {
        SharedTarget::EveryItem => "both target every item".to_string(),
        SharedTarget::EveryItemAnd { dimension, value } => format!(
            "one targets every item, the other {} `{value}` among others",
            dimension.name()
        ),
        SharedTarget::Named { dimension, value } => {
            format!("both target {} `{value}`", dimension.name())
        }
        SharedTarget::Shipping => "both discount the same shipping".to_string(),
    }
}

/// Findings about pairs, each with the index of the promotion it is reported on (the first of
/// the pair in input order; `related` names the other). With `only`, the pairs that promotion
/// is in.
fn pair_findings(
    views: &[PromotionView],
    policy: &Policy,
    only: Option<usize>,
) -> Vec<(usize, Finding)> {
    let mut out = Vec::new();
    for (i, a) in views.iter().enumerate() {
        for (j, b) in views.iter().enumerate().skip(i + 1) {
            if only.is_some_and(|k| k != i && k != j) {
                continue;
            }
            let Some(common) = a.live_together(b) else {
                continue;
            };
            if conditions_exclude(&a.conditions(), &b.conditions()) {
                continue;
            }
            let combination = a.combination(b);
            if let Some(group) = combination.shared_group() {
                if a.priority() == b.priority() {
                    let mut f = finding(
                        a.id(),
                        "groupPriorityTie",
                        Severity::Warning,
                        format!(
                            "`{}` and `{}` are in stacking group `{group}` with the same \
                             priority ({}) and are live at the same time ({}): at most one \
                             applies, and when both give the same the smaller id wins; give \
                             the one that should win a higher priority",
                            a.id(),
                            b.id(),
                            a.priority(),
                            span_words(common)
                        ),
                    );
                    f.related.push(b.id().to_string());
                    out.push((i, f));
                }
            }
            // Only discounts of one class that combine on the same lines stack on them.
            let class = a.class();
            if class != b.class() || combination != Combination::Combines {
                continue;
            }
            let Some(why) = a.shared_target(b) else {
                continue;
            };
            let name = class_name(class);
            let (severity, advice) = if policy.forbid_overlap {
                (
                    Severity::Violation,
                    "the policy forbids overlapping discounts",
                )
            } else {
                (Severity::Warning, "if that is not meant")
            };
            let mut f = finding(
                a.id(),
                "overlap",
                severity,
                format!(
                    "`{}` and `{}` are both {name} discounts, live at the same time ({}), can \
                     target the same items ({}), and both list `{name}` in combinesWith: \
                     one cart can get both on the same items; {advice}, put them in one \
                     stacking group or drop `{name}` from combinesWith",
                    a.id(),
                    b.id(),
                    span_words(common),
                    target_words(why)
                ),
            );
            f.related.push(b.id().to_string());
            out.push((i, f));
        }
    }
    out
}

// --- projection -----------------------------------------------------------------------------

fn amount(minor: i128, currency: Currency) -> Result<Amount, ProjectionError> {
    i64::try_from(minor)
        .map(|m| Amount::new(m, currency))
        .map_err(|_| ProjectionError::OutOfRange)
}

/// Evaluates every sample against a bundle holding only `p`.
fn project(
    p: &PromotionSpec,
    view: &PromotionView,
    input: &LintInput,
    currency: Currency,
    expected: u64,
) -> Result<Projection, ProjectionError> {
    // Each sample is evaluated at its own `now`, moved into the promotion's live time when it
    // falls outside: the projection asks what a redemption costs, not whether the sample's
    // date happens to fall in the campaign.
    let times: Vec<Option<Instant>> = input
        .samples
        .iter()
        .map(|(_, s)| view.nearest_live(s.context.now))
        .collect();
    let lo = times.iter().flatten().min().copied();
    let hi = times.iter().flatten().max().copied();
    let (Some(lo), Some(hi)) = (lo, hi) else {
        // Never live (an empty interval list): it cannot cost anything.
        return Ok(Projection {
            samples: input.samples.len(),
            redemptions: 0,
            average_discount: Amount::new(0, currency),
            expected_redemptions: expected,
            projected_spend: Amount::new(0, currency),
            budget_caps_at: None,
            worst_case: None,
            margin: None,
        });
    };
    let valid = (
        Instant(lo.seconds().saturating_sub(1)),
        Instant(hi.seconds().saturating_add(1)),
    );
    let bundle = compile(
        input,
        currency,
        format!("lint-{}", p.id),
        std::slice::from_ref(p),
        valid,
    )
    .map_err(ProjectionError::Bundle)?;

    let mut sum: i128 = 0;
    let mut redemptions: usize = 0;
    let mut worst: Option<WorstCase> = None;
    // Revenue, cost and discount of the targeted lines; `None` once a line lacks a cost.
    let mut margin: Option<(i128, i128, i128)> = Some((0, 0, 0));
    for ((name, sample), time) in input.samples.iter().zip(&times) {
        let Some(time) = time else { continue };
        let mut sample_input = sample.clone();
        sample_input.context.now = *time;
        if p.code_set.is_some() {
            sample_input.context.codes = vec![PROBE_CODE.to_string()];
        }
        let evaluation =
            evaluate(&bundle, &sample_input).map_err(|error| ProjectionError::Sample {
                sample: name.clone(),
                error: Box::new(error),
            })?;
        let discount = evaluation
            .applied
            .iter()
            .find(|a| *a.promotion_id == *p.id)
            .map_or(0, |a| a.amount.minor());
        if discount <= 0 {
            continue;
        }
        redemptions += 1;
        sum += i128::from(discount);
        if worst.as_ref().is_none_or(|w| discount > w.discount.minor()) {
            worst = Some(WorstCase {
                sample: name.clone(),
                discount: Amount::new(discount, currency),
            });
        }
        if let Some((revenue, cost, disc)) = margin.as_mut() {
            let mut complete = true;
            for (spec, outcome) in sample.cart.lines.iter().zip(&evaluation.lines) {
                if !view.can_discount(&Item::from(spec)) {
                    continue;
                }
                match outcome.cost {
                    Some(c) => {
                        *revenue += i128::from(outcome.amount.minor());
                        *cost += i128::from(c.minor());
                    }
                    None => complete = false,
                }
            }
            *disc += i128::from(discount);
            if !complete {
                margin = None;
            }
        }
    }
    let (average, projected) = match i128::try_from(redemptions) {
        Ok(n) if n > 0 => {
            let average = div_round(sum, n, Rounding::HalfUp).unwrap_or(0);
            let scaled = sum
                .checked_mul(i128::from(expected))
                .ok_or(ProjectionError::TooLarge)?;
            (average, div_round(scaled, n, Rounding::HalfUp).unwrap_or(0))
        }
        _ => (0, 0),
    };
    let margin = match margin {
        Some((revenue, cost, disc)) if redemptions > 0 => {
            let room = revenue - cost;
            let percent = (room > 0)
                .then(|| {
                    Decimal::from_i128_with_scale(disc, 0)
                        .checked_mul(Decimal::ONE_HUNDRED)?
                        .checked_div(Decimal::from_i128_with_scale(room, 0))
                })
                .flatten()
                .map(|d| {
                    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                        .to_string()
                });
            Some(MarginImpact {
                revenue: amount(revenue, currency)?,
                cost: amount(cost, currency)?,
                discount: amount(disc, currency)?,
                percent_of_margin: percent,
            })
        }
        _ => None,
    };
    Ok(Projection {
        samples: input.samples.len(),
        redemptions,
        average_discount: amount(average, currency)?,
        expected_redemptions: expected,
        projected_spend: amount(projected, currency)?,
        budget_caps_at: p
            .limits
            .budget
            .as_ref()
            .and_then(|b| currency.to_minor(b, &|| "limits.budget".into()).ok())
            .filter(|&b| i128::from(b) < projected)
            .map(|b| Amount::new(b, currency)),
        worst_case: worst,
        margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promo(json: &str) -> PromotionSpec {
        serde_json::from_str(json).unwrap()
    }

    fn cart(json_lines: &str, now: &str) -> EvaluationInput {
        serde_json::from_str(&format!(
            r#"{{"cart": {{"currency": "USD", "lines": {json_lines}}}, "context": {{"now": "{now}"}}}}"#
        ))
        .unwrap()
    }

    fn run(
        promotions: &[PromotionSpec],
        samples: &[(String, EvaluationInput)],
        policy: &str,
    ) -> Report {
        let pricing = PricingPolicy::default();
        let input = LintInput {
            currency: "USD",
            pricing: &pricing,
            promotions,
            samples,
        };
        lint(&input, &toml_policy(policy)).unwrap()
    }

    /// A policy as a project writes it (`policy.toml`).
    fn toml_policy(text: &str) -> Policy {
        let policy: Policy = toml::from_str(text).unwrap();
        policy.check().unwrap();
        policy
    }

    fn rules(r: &Report) -> Vec<(&str, &'static str, Severity)> {
        r.findings()
            .map(|f| (f.promotion_id.as_str(), f.rule, f.severity))
            .collect()
    }

    const WINDOW: &str = r#""startsAt": "2026-11-01T00:00:00Z", "endsAt": "2026-11-15T00:00:00Z""#;

    #[test]
    fn exposure_reads_every_reward() {
        let e = Exposure::of(&promo(
            r#"{"id": "a", "name": "a", "reward": {"type": "percentOff", "percent": "20"},
                "loyaltyBonus": [{"tier": "gold", "percent": "5"}, {"tier": "vip", "percent": "10.50"}],
                "maxDiscount": "999", "limits": {"budget": "5000.00"}}"#,
        ));
        assert_eq!(e.max_percent, Some(Decimal::new(305, 1)));
        assert_eq!(e.max_amount, None);
        assert_eq!(e.budget, Some(Decimal::new(500_000, 2)));
        let e = Exposure::of(&promo(
            r#"{"id": "t", "name": "t", "reward": {"type": "tiered", "basis": "spend", "tiers": [
                {"minSpend": "50", "amount": "5.00"}, {"minSpend": "100", "percent": "15"},
                {"minSpend": "200", "amount": "25.00"}]}}"#,
        ));
        assert_eq!(e.max_percent, Some(Decimal::from(15)));
        assert_eq!(e.max_amount, Some(Decimal::new(2500, 2)));
        let e = Exposure::of(&promo(
            r#"{"id": "s", "name": "s", "reward": {"type": "shippingOff", "amount": "7.50"}}"#,
        ));
        assert_eq!(e.max_percent, Some(Decimal::ONE_HUNDRED));
        assert_eq!(e.max_amount, Some(Decimal::new(750, 2)));
        for reward in [
            r#"{"type": "fixedPrice", "price": "1.00"}"#,
            r#"{"type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1}"#,
            r#"{"type": "volume", "tiers": [{"minQuantity": 3, "unitPrice": "9.00"}]}"#,
        ] {
            let e = Exposure::of(&promo(&format!(
                r#"{{"id": "x", "name": "x", "reward": {reward}}}"#
            )));
            assert_eq!(e.max_percent, Some(Decimal::ONE_HUNDRED), "{reward}");
        }
    }

    #[test]
    fn each_policy_limit_is_a_violation() {
        let promotions = [
            promo(&format!(
                r#"{{"id": "deep", "name": "Deep", {WINDOW}, "reward": {{"type": "percentOff", "percent": "20"}},
                    "loyaltyBonus": [{{"tier": "gold", "percent": "15"}}], "limits": {{"budget": "100"}}}}"#
            )),
            promo(&format!(
                r#"{{"id": "big", "name": "Big", {WINDOW}, "reward": {{"type": "amountOff", "amount": "75.00", "per": "order"}},
                    "limits": {{"budget": "100"}}}}"#
            )),
            promo(&format!(
                r#"{{"id": "rich", "name": "Rich", {WINDOW}, "reward": {{"type": "percentOff", "percent": "5"}},
                    "limits": {{"budget": "250000.00"}}}}"#
            )),
            promo(&format!(
                r#"{{"id": "nobudget", "name": "No budget", {WINDOW}, "reward": {{"type": "percentOff", "percent": "5"}}}}"#
            )),
            promo(
                r#"{"id": "long", "name": "Long", "startsAt": "2026-11-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z",
                    "reward": {"type": "percentOff", "percent": "5"}, "limits": {"budget": "100"}}"#,
            ),
            promo(
                r#"{"id": "forever", "name": "Forever", "startsAt": "2026-11-01T00:00:00Z",
                    "reward": {"type": "percentOff", "percent": "5"}, "limits": {"budget": "100"}}"#,
            ),
        ];
        let policy = r#"
            maxPercent = "30"
            maxAmount = "50.00"
            maxBudget = 100000
            maxDurationDays = 30
        "#;
        let report = run(&promotions, &[], policy);
        assert_eq!(
            rules(&report),
            vec![
                ("deep", "maxPercent", Severity::Violation),
                ("big", "maxAmount", Severity::Violation),
                ("rich", "maxBudget", Severity::Violation),
                ("nobudget", "maxBudget", Severity::Violation),
                ("long", "maxDurationDays", Severity::Violation),
                ("forever", "maxDurationDays", Severity::Violation),
            ]
        );
        assert_eq!(report.violations(), 6);
        let text = report.to_string();
        assert!(
            text.contains("up to 35% off (loyalty bonus included)"),
            "{text}"
        );
        assert!(text.contains("it can take 75.00 USD off"), "{text}");
        assert!(text.contains("it runs 61 days"), "{text}");
        assert!(text.contains("no end date"), "{text}");
        // 14 days is within 30: `deep` has no duration finding.
        assert!(!report.promotions[0]
            .findings
            .iter()
            .any(|f| f.rule == "maxDurationDays"));
    }

    #[test]
    fn stacking_warnings() {
        let promotions = [
            promo(
                r#"{"id": "code", "name": "Code", "codeSet": "vip", "reward": {"type": "percentOff", "percent": "5"}}"#,
            ),
            promo(
                r#"{"id": "solo", "name": "Solo", "reward": {"type": "percentOff", "percent": "5"},
                    "stacking": {"exclusive": true, "combinesWith": ["order"]}}"#,
            ),
            promo(
                r#"{"id": "g1", "name": "G1", "priority": 3, "reward": {"type": "percentOff", "percent": "5", "on": "order"},
                    "stacking": {"group": "sitewide"}}"#,
            ),
            promo(
                r#"{"id": "g2", "name": "G2", "priority": 3, "reward": {"type": "amountOff", "amount": "5.00", "per": "order"},
                    "stacking": {"group": "sitewide"}}"#,
            ),
        ];
        let report = run(&promotions, &[], "");
        assert_eq!(
            rules(&report),
            vec![
                ("code", "codeWithoutLimit", Severity::Warning),
                ("solo", "exclusiveCombines", Severity::Warning),
                ("g1", "groupPriorityTie", Severity::Warning),
            ]
        );
        assert_eq!(report.violations(), 0);
        assert_eq!(report.warnings(), 3);
    }

    #[test]
    fn overlapping_stackable_promotions_warn() {
        let stack = r#""stacking": {"combinesWith": ["product", "order"]}"#;
        let promotions = [
            promo(&format!(
                r#"{{"id": "apparel-20", "name": "A", "items": {{"categories": ["apparel", "shoes"]}},
                    "reward": {{"type": "percentOff", "percent": "20"}}, {stack}}}"#
            )),
            promo(&format!(
                r#"{{"id": "shoes-10", "name": "B", "startsAt": "2026-11-10T00:00:00Z",
                    "items": {{"categories": ["shoes"]}}, "reward": {{"type": "percentOff", "percent": "10"}}, {stack}}}"#
            )),
            // Same items, but over before `shoes-10` starts: no overlap with it.
            promo(&format!(
                r#"{{"id": "early", "name": "C", "endsAt": "2026-11-01T00:00:00Z",
                    "items": {{"categories": ["shoes"]}}, "reward": {{"type": "percentOff", "percent": "10"}}, {stack}}}"#
            )),
            // Other items.
            promo(&format!(
                r#"{{"id": "mugs", "name": "D", "endsAt": "2026-11-01T00:00:00Z",
                    "items": {{"categories": ["mugs"]}}, "reward": {{"type": "percentOff", "percent": "10"}}, {stack}}}"#
            )),
            // Same items, but does not stack with product discounts.
            promo(
                r#"{"id": "alone", "name": "E", "items": {"skus": ["SHOE-1"]},
                    "reward": {"type": "fixedPrice", "price": "10.00"}}"#,
            ),
        ];
        let report = run(&promotions, &[], "");
        let overlaps: Vec<_> = report.findings().filter(|f| f.rule == "overlap").collect();
        // apparel-20 meets shoes-10 and early (same category, live together); early and
        // shoes-10 are never live together; mugs targets other items; alone does not stack.
        assert_eq!(overlaps.len(), 2, "{report}");
        assert_eq!(overlaps[0].promotion_id, "apparel-20");
        assert_eq!(overlaps[0].related, vec!["shoes-10".to_string()]);
        assert_eq!(overlaps[0].severity, Severity::Warning);
        assert!(
            overlaps[0].message.contains("both target category `shoes`"),
            "{}",
            overlaps[0].message
        );
        assert!(overlaps[0]
            .message
            .contains("(from 2026-11-10T00:00:00Z on)"));
        assert!(overlaps[1].message.contains("(until 2026-11-01T00:00:00Z)"));
        assert_eq!(overlaps[1].related, vec!["early".to_string()]);

        // The policy can make them violations; a group removes them.
        let report = run(&promotions, &[], "forbidOverlap = true");
        assert_eq!(report.violations(), 2);
        let mut grouped = promotions.to_vec();
        for p in &mut grouped {
            p.stacking.group = Some("g".into());
            p.priority = 1 + p.id.len() as i32;
        }
        let report = run(&grouped, &[], "forbidOverlap = true");
        assert_eq!(report.violations(), 0, "{report}");
    }

    #[test]
    fn one_promotion_among_others_gets_every_finding_about_it() {
        let stack = r#""stacking": {"combinesWith": ["product", "order"]}"#;
        let promotions = [
            promo(&format!(
                r#"{{"id": "apparel-20", "name": "A", "items": {{"categories": ["apparel", "shoes"]}},
                    "reward": {{"type": "percentOff", "percent": "20"}}, {stack}}}"#
            )),
            promo(&format!(
                r#"{{"id": "shoes-10", "name": "B", "codeSet": "c", "items": {{"categories": ["shoes"]}},
                    "reward": {{"type": "percentOff", "percent": "10"}}, {stack}}}"#
            )),
            promo(&format!(
                r#"{{"id": "shoes-5", "name": "C", "items": {{"categories": ["shoes"]}},
                    "reward": {{"type": "percentOff", "percent": "5"}}, {stack}}}"#
            )),
        ];
        let pricing = PricingPolicy::default();
        let input = LintInput {
            currency: "USD",
            pricing: &pricing,
            promotions: &promotions,
            samples: &[],
        };
        let whole = lint(&input, &Policy::default()).unwrap();
        let one = lint_promotion(&input, &Policy::default(), "shoes-10").unwrap();
        assert_eq!(one.promotions.len(), 1);
        assert_eq!(one.promotions[0].id, "shoes-10");
        // Its own finding, the overlap reported on apparel-20, and its own overlap with shoes-5.
        assert_eq!(
            rules(&one),
            vec![
                ("shoes-10", "codeWithoutLimit", Severity::Warning),
                ("apparel-20", "overlap", Severity::Warning),
                ("shoes-10", "overlap", Severity::Warning),
            ]
        );
        // The same findings as the whole report's about it.
        let mut about: Vec<&Finding> = whole
            .findings()
            .filter(|f| f.promotion_id == "shoes-10" || f.related.iter().any(|r| r == "shoes-10"))
            .collect();
        let mut found: Vec<&Finding> = one.findings().collect();
        about.sort_by_key(|f| &f.message);
        found.sort_by_key(|f| &f.message);
        assert_eq!(found, about);
        assert_eq!((one.violations, one.warnings), (0, 3));
        assert_eq!(
            lint_promotion(&input, &Policy::default(), "nope")
                .unwrap_err()
                .to_string(),
            "no promotion `nope` among those linted"
        );
    }

    #[test]
    fn projection_arithmetic() {
        let p = promo(
            r#"{"id": "ten", "name": "10% off apparel", "startsAt": "2026-11-01T00:00:00Z",
                "items": {"categories": ["apparel"]}, "reward": {"type": "percentOff", "percent": "10"}}"#,
        );
        let now = "2026-11-20T12:00:00Z";
        let samples = vec![
            (
                "two-tees".to_string(),
                cart(
                    r#"[{"id": "1", "sku": "TEE", "categories": ["apparel"], "unitPrice": "25.00", "quantity": 2}]"#,
                    now,
                ),
            ),
            (
                "one-shirt".to_string(),
                cart(
                    r#"[{"id": "1", "sku": "SHIRT", "categories": ["apparel"], "unitPrice": "19.99", "quantity": 1}]"#,
                    now,
                ),
            ),
            (
                "cap".to_string(),
                // Before the start: evaluated at the start instead.
                cart(
                    r#"[{"id": "1", "sku": "CAP", "categories": ["apparel"], "unitPrice": "10.00", "quantity": 1}]"#,
                    "2026-10-01T00:00:00Z",
                ),
            ),
            (
                "mug".to_string(),
                cart(
                    r#"[{"id": "1", "sku": "MUG", "categories": ["mugs"], "unitPrice": "12.00", "quantity": 1}]"#,
                    now,
                ),
            ),
        ];
        // two-tees: 10% of 50.00 = 5.00; one-shirt: 10% of 19.99 = 1.999 → 2.00 (half up);
        // cap: 10% of 10.00 = 1.00; mug: not targeted, not a redemption.
        // Sum 800 cents over 3 redemptions: average 266.67 → 2.67.
        // Projected: 800 × 1000 ÷ 3 = 266,666.67 → 266,667 cents = 2666.67 (rounded once;
        // 2.67 × 1000 would say 2670.00). Worst case: 5.00 on two-tees.
        let report = run(std::slice::from_ref(&p), &samples, "");
        let pr = report.promotions[0].projection.as_ref().unwrap();
        assert_eq!(pr.samples, 4);
        assert_eq!(pr.redemptions, 3);
        assert_eq!(pr.average_discount.to_string(), "2.67");
        assert_eq!(pr.expected_redemptions, 1000);
        assert_eq!(pr.projected_spend.to_string(), "2666.67");
        assert_eq!(pr.budget_caps_at, None);
        let worst = pr.worst_case.as_ref().unwrap();
        assert_eq!(
            (worst.sample.as_str(), worst.discount.to_string().as_str()),
            ("two-tees", "5.00")
        );
        assert_eq!(pr.margin, None);
        // 800 × 25 ÷ 3 = 6666.67 → 6667 cents.
        // A budget below the projection is what the promotion can cost at most; one above it
        // changes nothing.
        for (budget, caps) in [("1000", Some("1000.00")), ("5000", None)] {
            let mut capped = p.clone();
            capped.limits.budget = serde_json::from_value(serde_json::json!(budget)).unwrap();
            let report = run(&[capped], &samples, "");
            let pr = report.promotions[0].projection.as_ref().unwrap();
            assert_eq!(pr.projected_spend.to_string(), "2666.67");
            assert_eq!(
                pr.budget_caps_at.as_ref().map(|a| a.to_string()).as_deref(),
                caps
            );
            assert_eq!(
                report
                    .to_string()
                    .contains("the ledger stops it at 1000.00 USD"),
                caps.is_some()
            );
        }
        let report = run(&[p], &samples, "[projection]\nexpectedRedemptions = 25");
        let pr = report.promotions[0].projection.as_ref().unwrap();
        assert_eq!(pr.projected_spend.to_string(), "66.67");
        let text = report.to_string();
        assert!(
            text.contains("projected cost: 66.67 USD for 25 redemptions"),
            "{text}"
        );
        assert!(
            text.contains("worst case: 5.00 USD off sample `two-tees`"),
            "{text}"
        );
    }

    #[test]
    fn margin_impact_and_code_gate() {
        let p = promo(
            r#"{"id": "vip", "name": "VIP 5 off", "codeSet": "vip", "priority": 1,
                "reward": {"type": "amountOff", "amount": "5.00", "per": "order"},
                "items": {"categories": ["apparel"]}, "limits": {"totalUses": 100}}"#,
        );
        let now = "2026-11-20T12:00:00Z";
        let samples = vec![(
            "mixed".to_string(),
            // The mug has no cost but is not targeted: the margin is still known.
            cart(
                r#"[{"id": "1", "sku": "TEE", "categories": ["apparel"], "unitPrice": "25.00", "quantity": 2, "unitCost": "9.00"},
                    {"id": "2", "sku": "MUG", "categories": ["mugs"], "unitPrice": "12.00", "quantity": 1}]"#,
                now,
            ),
        )];
        // Targeted revenue 50.00, cost 18.00, margin 32.00; discount 5.00 (the code gate is
        // passed with a synthetic code): 5 ÷ 32 = 15.625% → 15.63 (half away from zero).
        let report = run(std::slice::from_ref(&p), &samples, "");
        let pr = report.promotions[0].projection.as_ref().unwrap();
        assert_eq!(pr.redemptions, 1);
        let m = pr.margin.as_ref().unwrap();
        assert_eq!(m.revenue.to_string(), "50.00");
        assert_eq!(m.cost.to_string(), "18.00");
        assert_eq!(m.discount.to_string(), "5.00");
        assert_eq!(m.percent_of_margin.as_deref(), Some("15.63"));
        assert!(report.to_string().contains("eats 15.63% of the margin"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["promotions"][0]["projection"]["margin"]["percentOfMargin"],
            "15.63"
        );
        assert_eq!(
            json["promotions"][0]["projection"]["averageDiscount"],
            "5.00"
        );

        // A targeted line without a cost: no margin figure.
        let samples = vec![(
            "nocost".to_string(),
            cart(
                r#"[{"id": "1", "sku": "TEE", "categories": ["apparel"], "unitPrice": "25.00", "quantity": 2}]"#,
                now,
            ),
        )];
        let report = run(&[p], &samples, "");
        assert_eq!(
            report.promotions[0].projection.as_ref().unwrap().margin,
            None
        );
    }

    #[test]
    fn clean_promotion_has_no_findings() {
        let p = promo(&format!(
            r#"{{"id": "ok", "name": "Fine", {WINDOW}, "codeSet": "c",
                "reward": {{"type": "percentOff", "percent": "10"}},
                "stacking": {{"combinesWith": ["shipping"]}},
                "limits": {{"budget": "5000.00", "totalUses": 1000}}}}"#
        ));
        let policy = r#"
            maxPercent = "10"
            maxAmount = "20"
            maxBudget = "5000"
            maxDurationDays = 14
            forbidOverlap = true
            [projection]
            expectedRedemptions = 10
        "#;
        let report = run(&[p], &[], policy);
        assert_eq!(report.violations(), 0);
        assert_eq!(report.warnings(), 0);
        assert!(report.promotions[0].findings.is_empty());
        let text = report.to_string();
        assert!(
            text.contains("1 promotion in USD: 0 violations, 0 warnings"),
            "{text}"
        );
        assert!(
            text.contains("exposure: up to 10% off; no fixed amount; budget 5000.00 USD"),
            "{text}"
        );
        assert!(text.contains("no findings"), "{text}");
    }

    #[test]
    fn json_policy_names_the_field() {
        let read = |json: &str| {
            promoseal_evaluator::from_json_strict::<Policy>(json.as_bytes())
                .map_err(|e| format!("{}: {}", e.path.unwrap_or_default(), e.detail))
        };
        let e = read(r#"{"maxPercnt": "10"}"#).unwrap_err();
        assert!(e.contains("maxPercnt"), "{e}");
        let e = read(r#"{"maxPercent": 12.5}"#).unwrap_err();
        assert!(
            e.starts_with("maxPercent: ") && e.contains("never floats"),
            "{e}"
        );
        let e = read(r#"{"maxAmount": "-3"}"#).unwrap_err();
        assert!(e.starts_with("maxAmount: "), "{e}");
        let e = read(r#"{"maxAmount": -3}"#).unwrap_err();
        assert!(
            e.starts_with("maxAmount: ") && e.contains("negative"),
            "{e}"
        );
        let e = read(r#"{"projection": {"expectedRedemption": 5}}"#).unwrap_err();
        assert!(e.contains("expectedRedemption"), "{e}");
        let p = read(r#"{"maxPercent": "150"}"#).unwrap();
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "maxPercent: `150` is above 100"
        );
        let p = read(r#"{"maxBudget": 5000, "maxPercent": "30", "forbidOverlap": true}"#).unwrap();
        assert_eq!(p.check(), Ok(()));
        assert_eq!(p.max_budget, Some(Decimal::from(5000)));
        assert_eq!(p.max_percent, Some(Decimal::from(30)));
        assert_eq!(p.projection.expected_redemptions, 1000);
    }

    #[test]
    fn errors_read_as_the_cli_printed_them() {
        let pricing = PricingPolicy::default();
        let bad = [promo(
            r#"{"id": "bad", "name": "Bad", "reward": {"type": "percentOff", "percent": "150"}}"#,
        )];
        let input = LintInput {
            currency: "USD",
            pricing: &pricing,
            promotions: &bad,
            samples: &[],
        };
        assert_eq!(
            lint(&input, &Policy::default()).unwrap_err().to_string(),
            "promotion `bad`: bundle: promotions[0].reward.percent: percentage `150` is above 100"
        );
        let ok = [promo(
            r#"{"id": "ok", "name": "Ok", "reward": {"type": "percentOff", "percent": "10"}}"#,
        )];
        let mut eur = cart(
            r#"[{"id": "1", "sku": "A", "unitPrice": "1.00", "quantity": 1}]"#,
            "2026-11-20T12:00:00Z",
        );
        eur.cart.currency = "EUR".into();
        let samples = [("eur".to_string(), eur)];
        let input = LintInput {
            currency: "USD",
            pricing: &pricing,
            promotions: &ok,
            samples: &samples,
        };
        assert_eq!(
            lint(&input, &Policy::default()).unwrap_err().to_string(),
            "projecting promotion `ok`: sample `eur`: cart currency `EUR` does not match bundle \
             currency `USD`"
        );
        let input = LintInput {
            currency: "XXX",
            ..input
        };
        assert_eq!(
            lint(&input, &Policy::default()).unwrap_err().to_string(),
            "unknown currency `XXX`"
        );
    }
}
