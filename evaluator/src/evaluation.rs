//! The evaluation: what the shopper pays and why, line by line and promotion by promotion.
//! Money is a decimal string with exactly the currency's places. Lists follow a fixed order:
//! lines in cart order, promotions in application order (priority descending, then id).

use std::sync::{Arc, OnceLock};

use serde::ser::SerializeSeq;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::model::{DiscountClass, TaxMode};
use crate::money::{Amount, Percent};
use crate::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub bundle_id: Arc<str>,
    pub bundle_version: u64,
    pub currency: &'static str,
    pub evaluated_at: Instant,
    pub tax_mode: TaxMode,
    /// Sum of the line amounts before any discount (gross when prices include tax).
    pub subtotal: Amount,
    /// Line discounts plus the shipping discount.
    pub discount_total: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<ShippingOutcome>,
    /// The shipments of an input with `context.shipments`, in input order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<ShippingOutcome>>"))]
    pub shipments: Vec<ShippingOutcome>,
    /// All tax: lines and shipping (included in `total` when prices include tax).
    pub tax_total: Amount,
    /// What the shopper pays.
    pub total: Amount,
    pub lines: Vec<LineOutcome>,
    /// The receipt: one entry per applied promotion with its total and its parts.
    pub applied: Vec<AppliedDiscount>,
    /// Every promotion that did not apply, with the reason.
    #[cfg_attr(feature = "ts", ts(as = "Vec<Ineligible<'static>>"))]
    pub not_applied: NotApplied,
    /// Promotions held back only by a spend or quantity threshold: what is missing.
    pub unlocks: Vec<Unlock>,
    /// Limits the ledger must confirm before the applied discounts are final.
    pub pending_ledger: Vec<LedgerCheck>,
}

/// The shipping, or one shipment of a cart with several, priced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct ShippingOutcome {
    /// The shipment's id (`context.shipments`); absent for `context.shipping`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub method: String,
    pub amount: Amount,
    pub discount: Amount,
    pub total: Amount,
    pub tax: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct LineOutcome {
    // One string per line, shared with the applied discounts' parts on it.
    pub id: Arc<str>,
    pub quantity: u64,
    pub unit_price: Amount,
    /// `unitPrice × quantity`.
    pub amount: Amount,
    pub discount: Amount,
    /// `amount − discount`.
    pub total: Amount,
    pub tax_rate: Percent,
    /// Tax on `total` (part of it when prices include tax).
    pub tax: Amount,
    /// `unitCost × quantity`, when the cart gives a unit cost (for margin reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
    /// The discount of this line by promotion; the parts sum to `discount`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Allocation>>"))]
    pub allocations: Vec<Allocation>,
    /// With `pricing.unitAllocations`: the discount of each unit, as runs of consecutive units
    /// with the same discount, in unit order; `quantity × discount` sums to `discount`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<UnitDiscount>>"))]
    pub units: Vec<UnitDiscount>,
}

/// Consecutive units of a line with the same discount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UnitDiscount {
    pub quantity: u64,
    /// The discount of each of these units.
    pub discount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub promotion_id: Arc<str>,
    pub amount: Amount,
}

/// A promotion's part on one shipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ShipmentAmount {
    pub shipment_id: String,
    pub amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct AppliedDiscount {
    pub promotion_id: Arc<str>,
    pub name: Arc<str>,
    pub class: DiscountClass,
    /// Total of this promotion: its line parts plus its shipping part.
    pub amount: Amount,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<LineAmount>>"))]
    pub lines: Vec<LineAmount>,
    /// Its part on shipping (every shipment together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Amount>,
    /// Its part on each shipment, when the input has `context.shipments`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<ShipmentAmount>>"))]
    pub shipments: Vec<ShipmentAmount>,
    /// The code that unlocked it, in its canonical spelling ([`crate::Bundle::canonical_code`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LineAmount {
    pub line_id: Arc<str>,
    pub amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Ineligible<'a> {
    pub promotion_id: &'a str,
    pub reason: &'a Reason,
}

/// Every promotion of the bundle that did not apply, in application order, with its reason.
///
/// Most promotions of a large bundle target nothing in a given cart; they are kept as a bit set
/// over the bundle's ids (reason `noEligibleItems`) so an evaluation costs in proportion to the
/// promotions the cart touches, not to the bundle. It serializes as the full JSON list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplied {
    /// The bundle's promotion ids in application order.
    pub(crate) ids: Arc<PromotionIds>,
    /// Bit `k` set: promotion `k` targets no line of the cart.
    pub(crate) untargeted: Vec<u64>,
    /// The others that did not apply, by position in application order, sorted.
    pub(crate) reasons: Vec<(u32, Reason)>,
}

static NO_ELIGIBLE_ITEMS: Reason = Reason::NoEligibleItems;

/// A bundle's promotion ids in application order, shared by every evaluation's why-not list,
/// with each one's `noEligibleItems` entry as JSON text, serialized once, at the first
/// evaluation that writes one: most entries of a large bundle's list are such entries, and
/// copying their text costs a small part of writing each through the serializer.
#[derive(Debug)]
pub(crate) struct PromotionIds {
    ids: Box<[Arc<str>]>,
    untargeted: OnceLock<Option<Box<[Box<RawValue>]>>>,
}

impl PromotionIds {
    pub(crate) fn new(ids: Box<[Arc<str>]>) -> PromotionIds {
        PromotionIds {
            ids,
            untargeted: OnceLock::new(),
        }
    }

    /// Promotion k's `noEligibleItems` entry, as [`Ineligible`] serializes it (`None` only if
    /// serde_json could not write one, when the entries are written one by one instead).
    fn untargeted_json(&self, k: usize) -> Option<&RawValue> {
        let all = self.untargeted.get_or_init(|| {
            self.ids
                .iter()
                .map(|id| {
                    serde_json::value::to_raw_value(&Ineligible {
                        promotion_id: id,
                        reason: &NO_ELIGIBLE_ITEMS,
                    })
                    .ok()
                })
                .collect()
        });
        all.as_ref()?.get(k).map(|raw| &**raw)
    }
}

impl PartialEq for PromotionIds {
    fn eq(&self, other: &PromotionIds) -> bool {
        self.ids == other.ids
    }
}

impl Eq for PromotionIds {}

impl NotApplied {
    /// The entries in application order.
    pub fn iter(&self) -> impl Iterator<Item = Ineligible<'_>> + '_ {
        self.entries().map(|(_, entry)| entry)
    }

    /// The entries in application order, each with its promotion's position in that order.
    fn entries(&self) -> impl Iterator<Item = (usize, Ineligible<'_>)> + '_ {
        let mut explicit = self.reasons.iter().peekable();
        self.ids.ids.iter().enumerate().filter_map(move |(k, id)| {
            if self.is_untargeted(k) {
                return Some((
                    k,
                    Ineligible {
                        promotion_id: id,
                        reason: &NO_ELIGIBLE_ITEMS,
                    },
                ));
            }
            match explicit.peek() {
                Some((order, _)) if *order as usize == k => explicit.next().map(|(_, reason)| {
                    (
                        k,
                        Ineligible {
                            promotion_id: id,
                            reason,
                        },
                    )
                }),
                _ => None,
            }
        })
    }

    /// Whether promotion k (in application order) is listed as targeting no line of the cart.
    fn is_untargeted(&self, k: usize) -> bool {
        self.untargeted
            .get(k / 64)
            .is_some_and(|w| w & (1 << (k % 64)) != 0)
    }

    /// How many promotions did not apply.
    pub fn len(&self) -> usize {
        let untargeted: u32 = self.untargeted.iter().map(|w| w.count_ones()).sum();
        untargeted as usize + self.reasons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Leaves out the promotions that target no line of the cart (`noEligibleItems`): usually
    /// most of a large bundle, and seldom what a shopper asks about.
    pub fn retain_targeted(&mut self) {
        self.untargeted.clear();
    }

    /// Keeps the entries whose position in application order passes `keep`.
    pub(crate) fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        for (w, word) in self.untargeted.iter_mut().enumerate() {
            for bit in 0..64 {
                if *word & (1 << bit) != 0 && !keep(w * 64 + bit) {
                    *word &= !(1 << bit);
                }
            }
        }
        self.reasons.retain(|(order, _)| keep(*order as usize));
    }

    /// Leaves out every entry.
    pub fn clear(&mut self) {
        self.untargeted.clear();
        self.reasons.clear();
    }

    /// Keeps what `view` asks for.
    pub fn view(&mut self, view: NotAppliedView) {
        match view {
            NotAppliedView::All => {}
            NotAppliedView::Cart => self.retain_targeted(),
            NotAppliedView::None => self.clear(),
        }
    }

    /// Why the promotion `id` did not apply (`None` if it applied or is not in the bundle).
    pub fn reason(&self, id: &str) -> Option<&Reason> {
        self.iter().find(|e| e.promotion_id == id).map(|e| e.reason)
    }
}

/// Which promotions an evaluation's `notApplied` lists: `all` (the default, byte-identical on
/// every host), `cart` (leaves out those that target no line of the cart: usually most of a
/// large bundle) or `none` (an empty list). The rest of the evaluation is the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum NotAppliedView {
    #[default]
    All,
    Cart,
    None,
}

impl std::str::FromStr for NotAppliedView {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(NotAppliedView::All),
            "cart" => Ok(NotAppliedView::Cart),
            "none" => Ok(NotAppliedView::None),
            other => Err(format!(
                "notApplied must be all, cart or none, not `{other}`"
            )),
        }
    }
}

impl Serialize for NotApplied {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for (k, entry) in self.entries() {
            // A `noEligibleItems` entry is the same text for every cart: copied, not written.
            match (*entry.reason == Reason::NoEligibleItems)
                .then(|| self.ids.untargeted_json(k))
                .flatten()
            {
                Some(raw) => seq.serialize_element(raw)?,
                None => seq.serialize_element(&entry)?,
            }
        }
        seq.end()
    }
}

/// Why a promotion did not apply. `code` is the stable machine-readable tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(
    tag = "code",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Reason {
    /// No cart line is targeted by the promotion.
    NoEligibleItems,
    /// Targeted lines exist, but none can be fulfilled from stock.
    OutOfStock,
    NotStarted {
        starts_at: Instant,
    },
    Ended {
        ended_at: Instant,
    },
    /// Outside every interval of a recurring window.
    OutsideWindow {
        #[serde(skip_serializing_if = "Option::is_none")]
        next_start: Option<Instant>,
    },
    ChannelMismatch {
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    CustomerTierMismatch,
    SegmentMismatch,
    /// `required: true` is for first orders only, `false` for returning customers only.
    FirstOrderMismatch {
        required: bool,
    },
    RegionMismatch,
    /// A code of the promotion's code set was not entered.
    CodeMissing,
    BelowMinimumSubtotal(Box<SpendShortfall>),
    AboveMaximumSubtotal(Box<SpendExcess>),
    BelowMinimumQuantity {
        minimum: u64,
        current: u64,
        missing: u64,
    },
    /// The shipping reward does not cover the chosen method or country, or there is no shipping.
    ShippingNotEligible,
    /// Eligible, but it would take nothing off this cart.
    NoDiscount,
    /// Eligible, but it cannot be combined with these applied promotions.
    NotCombinable {
        with: Vec<Arc<str>>,
    },
    /// Eligible and combinable, but the best combination for the shopper does without it.
    LostToCombination {
        winners: Vec<Arc<str>>,
    },
}

/// A code-gated promotion an entered code unlocks ([`crate::code_unlocks`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeUnlock {
    pub promotion_id: Arc<str>,
    pub name: Arc<str>,
}

/// The targeted subtotal against a minimum (boxed: rare, and it keeps [`Reason`] small).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SpendShortfall {
    pub minimum: Amount,
    pub current: Amount,
    pub missing: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SpendExcess {
    pub maximum: Amount,
    pub current: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct Unlock {
    pub promotion_id: Arc<str>,
    pub name: Arc<str>,
    /// Targeted spend still missing (before discounts, in the price basis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_spend: Option<Amount>,
    /// Targeted units still missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_quantity: Option<u64>,
    /// What the promotion would take off the current cart once unlocked.
    pub would_give: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct LedgerCheck {
    pub promotion_id: Arc<str>,
    pub discount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_uses: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_customer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Amount>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub single_use_code: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the why-not list writes, entry by entry through the serializer: the reference
    /// for the copied text of untargeted entries.
    fn written_one_by_one(n: &NotApplied) -> String {
        serde_json::to_string(&n.iter().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn untargeted_entries_are_copied_as_the_serializer_writes_them() {
        let ids: Box<[Arc<str>]> = ["p-\"quoted\"", "p-é\u{1}", "p-3", "p-4", "p\\5"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let n = NotApplied {
            ids: Arc::new(PromotionIds::new(ids)),
            untargeted: vec![0b1_0011],
            reasons: vec![(3, Reason::CodeMissing)],
        };
        let text = serde_json::to_string(&n).unwrap();
        assert_eq!(text, written_one_by_one(&n));
        assert!(
            text.contains(r#"{"promotionId":"p-\"quoted\"","reason":{"code":"noEligibleItems"}}"#)
        );
        assert!(text.contains(r#""p-é\u0001""#), "{text}");
        // Written again from the text kept, and read back as a value, the same.
        assert_eq!(serde_json::to_string(&n).unwrap(), text);
        let value = serde_json::to_value(&n).unwrap();
        assert_eq!(value.to_string(), text);
        assert_eq!(value.as_array().map(Vec::len), Some(4));
        // Trimmed to the targeted ones, nothing is copied.
        let mut cart = n.clone();
        cart.retain_targeted();
        assert_eq!(
            serde_json::to_string(&cart).unwrap(),
            r#"[{"promotionId":"p-4","reason":{"code":"codeMissing"}}]"#
        );
    }
}
