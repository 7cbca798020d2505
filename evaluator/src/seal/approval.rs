//! Approvals are signatures: a role key signs the content digests of the promotions it approves,
//! and every verifier checks that the approvals a promotion carries cover what the trust root
//! demands for it.
//!
//! The digest covers the promotion's terms and the bundle currency, never its code material:
//! `codeSet` is replaced by `locked: true`, so the edge and the storefront form of a promotion
//! have the same digest, and codes can be added or deactivated without a new approval.
//!
//! An approval is a batch: the digests of every promotion approved at once, ascending, and one
//! signature over their Merkle tree hash ([`approval_root`]). A bundle of 1,000 promotions
//! approved in one sitting carries one signature per approver, and a verifier checks one
//! signature per batch instead of one per promotion; each promotion is still judged on its own
//! (its digest in the batch, the key's roles and authorization limits against its exposure).
//! The root of a batch of one is the digest itself, so approving one promotion signs exactly
//! what it always did.

use rust_decimal::Decimal;
use serde::Serialize;

use super::root::{ApprovalPolicy, AuthorizationLimits, Key, KeySpec, TrustRoot};
use super::{sha256, SigningIdentity};

use crate::codes::encode_hex;
use crate::model::{ApprovalSpec, BundlePayload, PromotionSpec, RewardSpec};
use crate::money::DecimalString;

/// Amounts per currency code.
type Limits = std::collections::BTreeMap<String, DecimalString>;
use crate::time::Instant;

/// Signature domain of approvals.
pub(crate) const APPROVAL: &str = "approval";

/// Most digests in one approval.
pub const MAX_BATCH: usize = 100_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApprovedContent<'a> {
    approval: &'static str,
    currency: &'a str,
    promotion: &'a PromotionSpec,
}

/// SHA-256 of the canonical JSON of what an approver approves.
pub fn approval_digest(currency: &str, promotion: &PromotionSpec) -> [u8; 32] {
    approval_digest_in(&mut Vec::with_capacity(512), currency, promotion)
}

/// [`approval_digest`], serializing into `buf` (cleared first): a verifier hashes every
/// promotion of a bundle through one buffer instead of growing a new one for each.
fn approval_digest_in(buf: &mut Vec<u8>, currency: &str, promotion: &PromotionSpec) -> [u8; 32] {
    // The view differs from the promotion only when it names a code set.
    let view = match promotion.code_set {
        None => std::borrow::Cow::Borrowed(promotion),
        Some(_) => {
            let mut view = promotion.clone();
            view.code_set = None;
            view.locked = true;
            std::borrow::Cow::Owned(view)
        }
    };
    let content = ApprovedContent {
        approval: "promoseal/1",
        currency,
        promotion: &view,
    };
    buf.clear();
    // Serializing plain data cannot fail; an empty digest input would never verify anyway.
    // (Into a `Vec`, as every other serialization, `serde_json::to_vec` included: another
    // writer type would be another copy of the promotion's serializer in the `.wasm`.)
    if serde_json::to_writer(&mut *buf, &content).is_err() {
        buf.clear();
    }
    sha256(buf)
}

/// What an approval signs: the Merkle tree hash of RFC 6962 §2.1 over the batch's digests in
/// ascending order, with the digests themselves as leaves (they are already SHA-256 of
/// domain-tagged JSON, which never has the 65-byte `0x01`-prefixed shape of an inner node):
/// `MTH({d}) = d`, `MTH(D) = SHA-256(0x01 || MTH(D[..k]) || MTH(D[k..]))` with `k` the largest
/// power of two below `|D|`. The empty batch has no root.
pub fn approval_root(digests: &[[u8; 32]]) -> Option<[u8; 32]> {
    match digests {
        [] => None,
        [one] => Some(*one),
        _ => {
            let k = (digests.len() - 1)
                .checked_ilog2()
                .map_or(1, |b| 1_usize << b);
            let (left, right) = digests.split_at(k.min(digests.len()));
            let mut node = [0_u8; 65];
            node[0] = 1;
            node[1..33].copy_from_slice(&approval_root(left)?);
            node[33..].copy_from_slice(&approval_root(right)?);
            Some(sha256(&node))
        }
    }
}

/// The root a key signs to approve the batch of `digests` (lowercase hex, in any order, each
/// once or more): what a page holding the key signs, as [`SigningIdentity::approve_all`] does.
pub fn approval_root_hex(digests: &[String]) -> Result<String, String> {
    let mut sorted = digests.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let batch = ApprovalSpec {
        key_id: String::new(),
        digests: sorted,
        signature: String::new(),
    };
    let digests = parse_batch(&batch).map_err(|e| format!("the batch {e}"))?;
    approval_root(&digests)
        .map(|root| encode_hex(&root))
        .ok_or_else(|| "the batch approves no digest".to_string())
}

/// The digests of a well-formed batch; `None` when it is not one.
fn batch(a: &ApprovalSpec) -> Option<Vec<[u8; 32]>> {
    parse_batch(a).ok()
}

/// The digests of an approval's batch, or why they are not a batch a key could have signed:
/// one to [`MAX_BATCH`] digests of 64 lowercase hex digits, in strictly ascending order.
fn parse_batch(a: &ApprovalSpec) -> Result<Vec<[u8; 32]>, String> {
    if a.digests.is_empty() {
        return Err("approves no digest".into());
    }
    if a.digests.len() > MAX_BATCH {
        return Err(format!("names more than {MAX_BATCH} digests"));
    }
    let mut digests = Vec::with_capacity(a.digests.len());
    for d in &a.digests {
        let digest = lower_hex_digest(d)
            .ok_or_else(|| format!("digest `{d}` is not 64 lowercase hex digits"))?;
        digests.push(digest);
    }
    // Lowercase hex digits of one length sort as the bytes they spell.
    if let Some(k) = digests.windows(2).position(|w| w.first() >= w.get(1)) {
        let text = |i: usize| a.digests.get(i).map_or("", String::as_str);
        let (x, y) = (text(k), text(k + 1));
        let what = if x == y {
            "names a digest twice"
        } else {
            "lists its digests out of ascending order"
        };
        return Err(format!("{what} (`{y}` after `{x}`)"));
    }
    Ok(digests)
}

/// The 32 bytes spelled by exactly 64 lowercase hex digits.
fn lower_hex_digest(s: &str) -> Option<[u8; 32]> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = nibble(*pair.first()?)? << 4 | nibble(*pair.get(1)?)?;
    }
    Some(out)
}

/// Whether this key's signature over the batch's root is valid (and the batch well formed).
fn signed_batch(key: &ed25519_dalek::VerifyingKey, a: &ApprovalSpec) -> Option<Vec<[u8; 32]>> {
    let digests = batch(a)?;
    signs(key, a, &digests).then_some(digests)
}

/// Whether this key's signature is valid over the root of `digests`, the batch of `a`.
fn signs(key: &ed25519_dalek::VerifyingKey, a: &ApprovalSpec, digests: &[[u8; 32]]) -> bool {
    approval_root(digests)
        .is_some_and(|root| super::verify_signature(key, APPROVAL, &root, &a.signature))
}

impl SigningIdentity {
    /// Approves one promotion of a bundle in `currency`: a batch of one.
    pub fn approve(&self, currency: &str, promotion: &PromotionSpec) -> ApprovalSpec {
        self.approve_all(currency, &[promotion])
    }

    /// Approves promotions of a bundle in `currency` at once: one signature over their batch.
    pub fn approve_all(&self, currency: &str, promotions: &[&PromotionSpec]) -> ApprovalSpec {
        let mut digests: Vec<[u8; 32]> = promotions
            .iter()
            .map(|p| approval_digest(currency, p))
            .collect();
        digests.sort_unstable();
        digests.dedup();
        // A batch of no promotion has no root: its signature (over nothing) never verifies.
        let root = approval_root(&digests).unwrap_or_default();
        let s = self.sign(APPROVAL, &root);
        ApprovalSpec {
            key_id: s.key_id,
            digests: digests.iter().map(|d| encode_hex(d)).collect(),
            signature: s.sig,
        }
    }
}

/// The most a promotion can grant, as declared: its deepest percentage, its largest fixed
/// amount and its budget; what approval rules, authorization limits and lint policies measure.
/// `None` means the promotion has no such component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Deepest percentage off, loyalty bonus included (capped at 100 as the evaluator does).
    /// Rewards that set a price (`fixedPrice`, volume `unitPrice` tiers) count as 100: the
    /// price may be far below the item's. Free items (`buyXGetY` without a percent) are 100.
    pub max_percent: Option<Decimal>,
    /// Largest fixed amount off (amountOff, amount tiers, shipping amount), in the bundle
    /// currency. `maxDiscount` is a cap, not an exposure, and is not counted.
    pub max_amount: Option<Decimal>,
    /// `limits.budget`; `None` is no budget, which is no bound: it passes every
    /// `budgetAbove` rule and exceeds every `maxBudget` limit.
    pub budget: Option<Decimal>,
}

impl Exposure {
    /// The exposure of one promotion.
    pub fn of(p: &PromotionSpec) -> Exposure {
        fn raise(slot: &mut Option<Decimal>, v: Decimal) {
            *slot = Some(slot.map_or(v, |s| s.max(v)));
        }
        let hundred = Decimal::ONE_HUNDRED;
        let bonus = p
            .loyalty_bonus
            .iter()
            .map(|b| b.percent.0)
            .max()
            .unwrap_or(Decimal::ZERO);
        let with_bonus = |d: Decimal| d.checked_add(bonus).map_or(hundred, |s| s.min(hundred));
        let mut percent = None;
        let mut amount = None;
        match &p.reward {
            RewardSpec::PercentOff { percent: x, .. } => raise(&mut percent, with_bonus(x.0)),
            RewardSpec::AmountOff { amount: a, .. } => raise(&mut amount, a.0),
            RewardSpec::FixedPrice { .. } => raise(&mut percent, hundred),
            RewardSpec::BuyXGetY {
                percent: x,
                amount: a,
                ..
            } => match a {
                // An amount off each given unit, as `amountOff` per unit; a price, as
                // `fixedPrice` (up to the whole unit).
                Some(a) => raise(&mut amount, a.0),
                None => raise(&mut percent, x.map_or(hundred, |x| x.0)),
            },
            RewardSpec::Tiered { tiers, .. } => {
                for t in tiers {
                    if let Some(x) = &t.percent {
                        raise(&mut percent, with_bonus(x.0));
                    }
                    if let Some(a) = &t.amount {
                        raise(&mut amount, a.0);
                    }
                }
            }
            RewardSpec::Volume { tiers } => {
                for t in tiers {
                    if let Some(x) = &t.percent {
                        raise(&mut percent, with_bonus(x.0));
                    }
                    if t.unit_price.is_some() {
                        raise(&mut percent, hundred);
                    }
                }
            }
            RewardSpec::ShippingOff {
                percent: x,
                amount: a,
                ..
            } => {
                match x {
                    Some(x) => raise(&mut percent, x.0),
                    // An amount off shipping can be all of a cheap shipping fee.
                    None => raise(&mut percent, hundred),
                }
                if let Some(a) = a {
                    raise(&mut amount, a.0);
                }
            }
        }
        Exposure {
            max_percent: percent.map(|d| d.normalize()),
            max_amount: amount,
            budget: p.limits.budget.map(|b| b.0),
        }
    }
}

fn above(value: Option<Decimal>, thresholds: &Limits, currency: &str) -> bool {
    match (value, thresholds.is_empty()) {
        (None, _) | (_, true) => false,
        (Some(v), false) => thresholds.get(currency).is_none_or(|t| v > t.0),
    }
}

/// A budget passes a `budgetAbove` rule when it is above the rule's amount for the currency,
/// when the rule does not name the currency, or when there is no budget (no bound).
fn budget_above(budget: Option<Decimal>, thresholds: &Limits, currency: &str) -> bool {
    !thresholds.is_empty() && budget.is_none_or(|b| above(Some(b), thresholds, currency))
}

impl ApprovalPolicy {
    /// The roles that must approve a promotion with this exposure, each once, in policy order.
    pub fn roles_for(&self, e: &Exposure, currency: &str) -> Vec<&str> {
        let mut roles: Vec<&str> = self.required.iter().map(String::as_str).collect();
        for rule in &self.rules {
            let triggered = rule
                .percent_above
                .is_some_and(|t| e.max_percent.is_some_and(|p| p > t.0))
                || above(e.max_amount, &rule.amount_above, currency)
                || budget_above(e.budget, &rule.budget_above, currency);
            if triggered && !roles.contains(&rule.role.as_str()) {
                roles.push(&rule.role);
            }
        }
        roles
    }
}

impl AuthorizationLimits {
    /// Whether an approval under these limits covers the exposure. A promotion without a
    /// declared budget has no bound: only a key without budget limits covers it.
    pub fn covers(&self, e: &Exposure, currency: &str) -> bool {
        let within = |v: Option<Decimal>, m: &Limits| {
            v.is_none_or(|v| m.is_empty() || m.get(currency).is_some_and(|l| v <= l.0))
        };
        let percent_ok = match (e.max_percent, self.max_percent) {
            (Some(p), Some(l)) => p <= l.0,
            _ => true,
        };
        let budget_ok = match e.budget {
            Some(b) => within(Some(b), &self.max_budget),
            None => self.max_budget.is_empty(),
        };
        percent_ok && within(e.max_amount, &self.max_amount) && budget_ok
    }
}

/// Whether an approval by a key with these limits covers the exposure: no limits cover anything.
fn limits_cover(limits: Option<&AuthorizationLimits>, e: &Exposure, currency: &str) -> bool {
    limits.is_none_or(|l| l.covers(e, currency))
}

impl Key {
    fn covers(&self, e: &Exposure, currency: &str) -> bool {
        limits_cover(self.limits.as_ref(), e, currency)
    }
}

impl KeySpec {
    /// Whether an approval by this key covers the exposure (a key without limits covers
    /// anything): what a verifier counts, before the signature and the key's lifetime.
    pub fn covers(&self, e: &Exposure, currency: &str) -> bool {
        limits_cover(self.limits.as_ref(), e, currency)
    }
}

/// A promotion whose approvals fall short of what the trust root demands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncovered {
    pub promotion: String,
    /// The first role short of approvals.
    pub role: String,
    /// Valid approvals by live keys of the role whose limits cover the promotion.
    pub valid: u32,
    pub required: u32,
}

/// Every promotion of a payload whose approvals do not cover it, in payload order.
///
/// Each batch's signature is checked once, and only when it names a promotion of the payload
/// that needs approval; each promotion's digest is computed once.
pub fn uncovered(root: &TrustRoot, payload: &BundlePayload, now: Instant) -> Vec<Uncovered> {
    let batches: Vec<Option<Vec<[u8; 32]>>> = payload.approvals.iter().map(batch).collect();
    uncovered_in(root, payload, &batches, now)
}

/// The digests of every approval's batch, in payload order, or why the first that is not a
/// well-formed batch is refused (`approval N (key K) …`): what the verifier reads once. Every
/// entry is `Some` (the shape [`uncovered_in`] takes, where `None` is a batch to pass over).
pub(crate) fn batches(payload: &BundlePayload) -> Result<Vec<Option<Vec<[u8; 32]>>>, String> {
    payload
        .approvals
        .iter()
        .enumerate()
        .map(|(i, a)| {
            parse_batch(a)
                .map(Some)
                .map_err(|e| format!("approval {i} (key `{}`) {e}", a.key_id))
        })
        .collect()
}

/// [`uncovered`], with the payload's batches already read (`None`: not a well-formed batch,
/// which covers nothing).
pub(crate) fn uncovered_in(
    root: &TrustRoot,
    payload: &BundlePayload,
    batches: &[Option<Vec<[u8; 32]>>],
    now: Instant,
) -> Vec<Uncovered> {
    let currency = payload.currency.as_str();
    // The promotions that need approval: their exposure, roles and digest.
    let mut buf = Vec::new();
    let needs: Vec<(&PromotionSpec, Exposure, Vec<&str>, [u8; 32])> = payload
        .promotions
        .iter()
        .filter_map(|p| {
            let exposure = Exposure::of(p);
            let roles = root.payload.approvals.roles_for(&exposure, currency);
            (!roles.is_empty()).then(|| {
                (
                    p,
                    exposure,
                    roles,
                    approval_digest_in(&mut buf, currency, p),
                )
            })
        })
        .collect();
    // The needs in digest order: a batch's digests ascend, so one pass finds the promotions
    // it names (`named_in`).
    let digest_of = |i: usize| needs.get(i).map(|n| &n.3);
    let mut by_digest: Vec<usize> = (0..needs.len()).collect();
    sort_by_digest(&mut by_digest, digest_of);
    let mut signers: Vec<Vec<&Key>> = vec![Vec::new(); needs.len()];
    let mut named: Vec<usize> = Vec::new();
    for (a, digests) in payload.approvals.iter().zip(batches) {
        let Some(k) = root.key(&a.key_id).filter(|k| k.live(now)) else {
            continue;
        };
        let Some(digests) = digests else {
            continue;
        };
        named_in(&by_digest, digest_of, digests, &mut named);
        // Only a batch that names a promotion needing approval is worth a signature check.
        if named.is_empty() || !signs(&k.key, a, digests) {
            continue;
        }
        for &i in &named {
            if let Some(s) = signers.get_mut(i) {
                if !s.iter().any(|s| s.id == k.id) {
                    s.push(k);
                }
            }
        }
    }
    needs
        .iter()
        .zip(&signers)
        .filter_map(|((p, exposure, roles, _), signers)| {
            roles.iter().find_map(|&role| {
                let have = signers
                    .iter()
                    .filter(|k| k.has(role) && k.covers(exposure, currency))
                    .count() as u32;
                let need = root.threshold(role);
                (have < need).then(|| Uncovered {
                    promotion: p.id.clone(),
                    role: role.to_string(),
                    valid: have,
                    required: need,
                })
            })
        })
        .collect()
}

/// The items of `by_digest` (in ascending digest order) that `batch` (ascending) names, into
/// `named`: one pass that jumps by binary search, so a batch of one digest costs a search and
/// a batch of all of them a merge. Items with the same digest (identical terms) are all named.
fn named_in<'d>(
    by_digest: &[usize],
    digest_of: impl Fn(usize) -> Option<&'d [u8; 32]>,
    batch: &[[u8; 32]],
    named: &mut Vec<usize>,
) {
    named.clear();
    let mut next = 0;
    for d in batch {
        let rest = by_digest.get(next..).unwrap_or(&[]);
        next += rest.partition_point(|&i| digest_of(i).is_some_and(|n| n < d));
        let mut same = next;
        while let Some(&i) = by_digest.get(same).filter(|&&i| digest_of(i) == Some(d)) {
            named.push(i);
            same += 1;
        }
    }
}

/// Sorts `items` by their digests, ascending: a heapsort written once, because the standard
/// sorts are compiled anew for every key, and one keyed by a digest costs 30 to 90 KB of
/// `.wasm` (measured), where this costs about 2 KB. O(n log n) comparisons, no allocation.
fn sort_by_digest<'d>(items: &mut [usize], digest: impl Fn(usize) -> Option<&'d [u8; 32]>) {
    let less = |items: &[usize], a: usize, b: usize| {
        let key = |k: usize| items.get(k).and_then(|&i| digest(i));
        key(a) < key(b)
    };
    // Moves the item at `root` down until the heap of the first `end` items is ordered again.
    let sift = |items: &mut [usize], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(items, child, child + 1) {
            child += 1;
        }
        if !less(items, root, child) {
            break;
        }
        items.swap(root, child);
        root = child;
    };
    let n = items.len();
    for root in (0..n / 2).rev() {
        sift(items, root, n);
    }
    for end in (1..n).rev() {
        items.swap(0, end);
        sift(items, 0, end);
    }
}

/// Why one approval does not count for a promotion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalRefusal {
    /// The trust root has no key with this id.
    UnknownKey,
    /// The key's `notAfter` has passed.
    KeyExpired,
    /// The signature is not the key's over the batch it carries (forged, altered, or a batch
    /// that is not ascending digests each named once).
    BadSignature,
    /// The batch is the key's, but these terms are not in it (it approves other terms).
    NotTheseTerms,
    /// The key holds none of the roles that must approve this promotion.
    NotAnApprover { required: Vec<String> },
    /// The promotion's exposure is beyond the key's authorization limits.
    BeyondLimit,
}

impl ApprovalRefusal {
    /// A stable machine code for the reason (API answers, logs).
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalRefusal::UnknownKey => "unknownKey",
            ApprovalRefusal::KeyExpired => "keyExpired",
            ApprovalRefusal::BadSignature => "badSignature",
            ApprovalRefusal::NotTheseTerms => "notTheseTerms",
            ApprovalRefusal::NotAnApprover { .. } => "notAnApprover",
            ApprovalRefusal::BeyondLimit => "beyondLimit",
        }
    }
}

impl std::fmt::Display for ApprovalRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApprovalRefusal::UnknownKey => write!(f, "the trust root has no such key"),
            ApprovalRefusal::KeyExpired => write!(f, "the key has expired"),
            ApprovalRefusal::BadSignature => {
                write!(
                    f,
                    "the signature is not the key's over the digests it names"
                )
            }
            ApprovalRefusal::NotTheseTerms => {
                write!(
                    f,
                    "the approval is the key's, but over other terms than these"
                )
            }
            ApprovalRefusal::NotAnApprover { required } if required.is_empty() => {
                write!(f, "this promotion needs no approval")
            }
            ApprovalRefusal::NotAnApprover { required } => write!(
                f,
                "the key holds none of the roles that must approve this promotion ({})",
                required.join(", ")
            ),
            ApprovalRefusal::BeyondLimit => {
                write!(f, "the promotion is beyond the key's authorization limit")
            }
        }
    }
}

/// The bytes an approver's key signs for a batch whose root ([`approval_root`]) is `root` (for
/// one promotion: its approval digest): what a browser holding the key (WebCrypto Ed25519)
/// signs, exactly as `promoseal approve` does.
pub fn approval_message(root: &[u8; 32]) -> Vec<u8> {
    super::signing_message(APPROVAL, root)
}

/// Judges one approval of a promotion as every verifier will: the key is the root's and live,
/// the signature is its over these exact terms, it holds a role the promotion needs, and the
/// promotion is within its limits. `Ok` holds the needed roles the approval counts for.
pub fn judge_approval(
    root: &TrustRoot,
    currency: &str,
    promotion: &PromotionSpec,
    approval: &ApprovalSpec,
    now: Instant,
) -> Result<Vec<String>, ApprovalRefusal> {
    let key = root
        .key(&approval.key_id)
        .ok_or(ApprovalRefusal::UnknownKey)?;
    if !key.live(now) {
        return Err(ApprovalRefusal::KeyExpired);
    }
    let digest = approval_digest(currency, promotion);
    let signed = signed_batch(&key.key, approval).ok_or(ApprovalRefusal::BadSignature)?;
    if signed.binary_search(&digest).is_err() {
        return Err(ApprovalRefusal::NotTheseTerms);
    }
    let exposure = Exposure::of(promotion);
    let required = root.payload.approvals.roles_for(&exposure, currency);
    let held: Vec<String> = required
        .iter()
        .filter(|r| key.has(r))
        .map(|r| r.to_string())
        .collect();
    if held.is_empty() {
        return Err(ApprovalRefusal::NotAnApprover {
            required: required.iter().map(|r| r.to_string()).collect(),
        });
    }
    if !key.covers(&exposure, currency) {
        return Err(ApprovalRefusal::BeyondLimit);
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::seal::RootPayload;

    /// A deterministic stream of numbers for the tests' random cases.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// The heapsort puts items in the order the standard sort gives their digests: every
    /// length up to 70, with repeated digests and digests equal in all but the last byte.
    #[test]
    fn items_sort_by_digest() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for n in 0..70 {
            let digests: Vec<[u8; 32]> = (0..n)
                .map(|_| {
                    let mut d = [(next() % 3) as u8; 32];
                    d[31] = (next() % 4) as u8;
                    d[0] = (next() % 5) as u8;
                    d
                })
                .collect();
            let mut items: Vec<usize> = (0..n).collect();
            sort_by_digest(&mut items, |i| digests.get(i));
            let got: Vec<[u8; 32]> = items.iter().map(|&i| digests[i]).collect();
            let mut want = digests.clone();
            want.sort_unstable();
            assert_eq!(got, want, "{n} items");
            let mut seen = items.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "each item once");
        }
    }

    /// A batch names exactly the items whose digest it lists, whatever the batch's length and
    /// wherever its digests fall among the items' (below, between, above, equal to several).
    #[test]
    fn a_batch_names_the_items_it_lists() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let digest = |v: u64| {
            let mut d = [0_u8; 32];
            d[0] = (v % 7) as u8;
            d[31] = (v / 7 % 5) as u8;
            d
        };
        let mut named = Vec::new();
        for round in 0..300 {
            let items: Vec<[u8; 32]> = (0..round % 40).map(|_| digest(next() % 35)).collect();
            let mut batch: Vec<[u8; 32]> = (0..next() % 12).map(|_| digest(next() % 35)).collect();
            batch.sort_unstable();
            batch.dedup();
            let mut by_digest: Vec<usize> = (0..items.len()).collect();
            sort_by_digest(&mut by_digest, |i| items.get(i));
            named_in(&by_digest, |i| items.get(i), &batch, &mut named);
            named.sort_unstable();
            let want: Vec<usize> = (0..items.len())
                .filter(|&i| batch.contains(&items[i]))
                .collect();
            assert_eq!(named, want, "round {round}");
        }
    }

    fn h(bytes: &[u8]) -> [u8; 32] {
        sha256(bytes)
    }

    fn inner(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut n = vec![1_u8];
        n.extend_from_slice(a);
        n.extend_from_slice(b);
        h(&n)
    }

    #[test]
    fn the_root_is_rfc_6962_over_the_digests() {
        let d: Vec<[u8; 32]> = (0_u8..5).map(|i| h(&[i])).collect();
        assert_eq!(approval_root(&[]), None);
        assert_eq!(
            approval_root(&d[..1]),
            Some(d[0]),
            "a batch of one signs the digest"
        );
        assert_eq!(approval_root(&d[..2]), Some(inner(&d[0], &d[1])));
        let ab = inner(&d[0], &d[1]);
        assert_eq!(approval_root(&d[..3]), Some(inner(&ab, &d[2])));
        let cd = inner(&d[2], &d[3]);
        assert_eq!(approval_root(&d[..4]), Some(inner(&ab, &cd)));
        assert_eq!(approval_root(&d[..5]), Some(inner(&inner(&ab, &cd), &d[4])));
    }

    #[test]
    fn a_page_gets_the_root_of_any_order_of_digests() {
        let mut d: Vec<[u8; 32]> = (0_u8..3).map(|i| h(&[i])).collect();
        let hex: Vec<String> = d.iter().rev().map(|x| encode_hex(x)).collect();
        d.sort_unstable();
        let want = encode_hex(&approval_root(&d).unwrap());
        assert_eq!(approval_root_hex(&hex).unwrap(), want);
        let mut twice = hex.clone();
        twice.push(hex[0].clone());
        assert_eq!(
            approval_root_hex(&twice).unwrap(),
            want,
            "a digest given twice counts once"
        );
        assert!(approval_root_hex(&[])
            .unwrap_err()
            .contains("approves no digest"));
        assert!(approval_root_hex(&["XY".into()])
            .unwrap_err()
            .contains("not 64 lowercase hex"));
    }

    fn promotion(id: &str, percent: &str) -> PromotionSpec {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "reward": {"type": "percentOff", "percent": percent}
        }))
        .unwrap()
    }

    fn root(keys: &[(&SigningIdentity, &str, Option<&str>)]) -> TrustRoot {
        let owner = SigningIdentity::from_seed("root-1", [1; 32]);
        let release = SigningIdentity::from_seed("release-1", [11; 32]);
        let keys: Vec<serde_json::Value> = [(&owner, "root", None), (&release, "release", None)]
            .iter()
            .chain(keys)
            .map(|(k, role, max)| {
                let mut v =
                    serde_json::json!({"id": k.id, "publicKey": k.public_key(), "roles": [role]});
                if let Some(m) = max {
                    v["limits"] = serde_json::json!({"maxPercent": m});
                }
                v
            })
            .collect();
        let payload: RootPayload = serde_json::from_value(serde_json::json!({
            "format": 1, "version": 1, "keys": keys,
            "approvals": {"required": ["marketing"], "rules": [{"role": "finance", "percentAbove": "20"}]}
        }))
        .unwrap();
        TrustRoot::from_payload(payload, [0; 32]).unwrap()
    }

    fn payload(promotions: &[PromotionSpec], approvals: Vec<ApprovalSpec>) -> BundlePayload {
        serde_json::from_value(serde_json::json!({
            "format": 1, "bundleId": "b", "audience": "edge", "version": 1,
            "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z",
            "currency": "USD", "promotions": promotions, "approvals": approvals,
        }))
        .unwrap()
    }

    #[test]
    fn one_batch_approves_many_and_each_promotion_is_judged_alone() {
        let marketing = SigningIdentity::from_seed("marketing-1", [21; 32]);
        let finance = SigningIdentity::from_seed("finance-1", [31; 32]);
        let root = root(&[
            (&marketing, "marketing", None),
            (&finance, "finance", Some("25")),
        ]);
        let now = Instant::parse("2026-06-01T00:00:00Z").unwrap();
        let small = promotion("small", "10");
        let deep = promotion("deep", "30");
        let mid = promotion("mid", "22");
        let all = [small.clone(), deep.clone(), mid.clone()];
        let m = marketing.approve_all("USD", &[&small, &deep, &mid]);
        assert_eq!(m.digests.len(), 3);
        assert!(m.digests.windows(2).all(|w| w[0] < w[1]), "ascending");
        // Finance approves both promotions above 20 % in one batch; its limit is 25 %.
        let f = finance.approve_all("USD", &[&deep, &mid]);
        let gaps = uncovered(&root, &payload(&all, vec![m.clone(), f.clone()]), now);
        let ids: Vec<&str> = gaps.iter().map(|u| u.promotion.as_str()).collect();
        assert_eq!(ids, ["deep"], "30 % is beyond finance-1's 25 % limit");
        assert_eq!(
            judge_approval(&root, "USD", &deep, &f, now),
            Err(ApprovalRefusal::BeyondLimit)
        );
        assert_eq!(
            judge_approval(&root, "USD", &mid, &f, now),
            Ok(vec!["finance".to_string()])
        );
        assert_eq!(
            judge_approval(&root, "USD", &small, &f, now),
            Err(ApprovalRefusal::NotTheseTerms)
        );
        // A batch may name terms this bundle does not carry.
        assert!(uncovered(
            &root,
            &payload(std::slice::from_ref(&small), vec![m.clone()]),
            now
        )
        .is_empty());
    }

    #[test]
    fn an_altered_batch_approves_nothing() {
        let marketing = SigningIdentity::from_seed("marketing-1", [21; 32]);
        let finance = SigningIdentity::from_seed("finance-1", [31; 32]);
        let root = root(&[(&marketing, "marketing", None), (&finance, "finance", None)]);
        let now = Instant::parse("2026-06-01T00:00:00Z").unwrap();
        let (a, b) = (promotion("a", "5"), promotion("b", "6"));
        let signed = marketing.approve_all("USD", &[&a, &b]);
        let both = [a.clone(), b.clone()];
        assert!(uncovered(&root, &payload(&both, vec![signed.clone()]), now).is_empty());
        // A digest left out changes the root: the signature covers nothing any more.
        let mut omitted = signed.clone();
        omitted.digests.pop();
        assert_eq!(
            uncovered(&root, &payload(&both, vec![omitted.clone()]), now).len(),
            2
        );
        assert_eq!(
            judge_approval(&root, "USD", &a, &omitted, now),
            Err(ApprovalRefusal::BadSignature)
        );
        // Reordered or repeated digests are not a batch: the verifier refuses the payload.
        let mut reordered = signed.clone();
        reordered.digests.reverse();
        let m = batches(&payload(&both, vec![reordered])).unwrap_err();
        assert!(m.contains("out of ascending order"), "{m}");
        let mut twice = signed.clone();
        twice.digests.insert(0, twice.digests[0].clone());
        let m = batches(&payload(&both, vec![twice])).unwrap_err();
        assert!(m.contains("names a digest twice"), "{m}");
        let mut upper = signed.clone();
        upper.digests[0] = upper.digests[0].to_uppercase();
        let m = batches(&payload(&both, vec![upper.clone()])).unwrap_err();
        assert!(m.contains("is not 64 lowercase hex digits"), "{m}");
        // Every digest is checked before the order: the bad digest is named, not the order.
        upper.digests.reverse();
        let m = batches(&payload(&both, vec![upper])).unwrap_err();
        assert!(m.contains("is not 64 lowercase hex digits"), "{m}");
        let mut short = signed.clone();
        short.digests[1].pop();
        let m = batches(&payload(&both, vec![short.clone()])).unwrap_err();
        assert!(m.contains("is not 64 lowercase hex digits"), "{m}");
        assert_eq!(
            judge_approval(&root, "USD", &a, &short, now),
            Err(ApprovalRefusal::BadSignature)
        );
        // The well-formed batch decodes to the digests it spells.
        let digests = batch(&signed).unwrap();
        let spelled: Vec<String> = digests.iter().map(|d| encode_hex(d)).collect();
        assert_eq!(spelled, signed.digests);
    }
}
