// Generated from the Rust types (evaluator-wasm/src/declarations.rs): do not edit. After a
// change to the types: UPDATE_TYPES=1 cargo test -p promoseal-evaluator-wasm declarations
// The declarations of `review` and `windows`, exported by the package built with the
// `authoring` feature, beside those of types.d.ts.

/**
 * What `review` looks at: the draft, the shop's bundle settings and current promotions, the
 * trust root's approval rules, the lint policy and the sample carts.
 */
export type ReviewInput = {
  /**
   * The draft promotion as `docs/json-reference.md` describes a promotion (the fields of a
   * project's `promotions/*.toml`): a JSON object, or its JSON text. Whatever is wrong with
   * it is in the review's `errors`, never a failure of the call.
   */
  draft: Record<string, unknown> | string;
  /**
   * The bundle currency (`promoseal.toml`'s `currency`).
   */
  currency: string;
  /**
   * The shop's IANA time zone (`timeZone`), carried into the draft payload.
   */
  timeZone?: string;
  /**
   * The bundle's declared arithmetic (`[pricing]`); default: every default.
   */
  pricing?: PricingPolicy;
  /**
   * The shop's current promotions. The one with the draft's id, if any, is the promotion the
   * draft edits: the draft takes its place.
   */
  promotions?: Array<Promotion>;
  /**
   * The ids of the shop's code sets. When given, a `codeSet` naming another is an error;
   * when absent, any code set is taken to exist.
   */
  codeSets?: Array<string>;
  /**
   * The trust root's payload: its approval rules, thresholds and keys (their roles and
   * authorization limits). Only read, never verified: the host gives the root it trusts.
   */
  root: RootPayload;
  /**
   * The lint policy (`policy.toml`'s keys); default: no limits.
   */
  policy?: Policy;
  /**
   * Sample carts the lint projects the draft's cost on (`samples/*.json`).
   */
  samples?: Array<Sample>;
};

/**
 * The house rules a bundle's promotions are checked against: TOML in a project
 * (`policy.toml`), JSON in the console, the same keys in both. Every field is optional; an
 * absent limit is not checked. Read it with serde, then check it (`Policy::check`).
 *
 * ```toml
 * maxPercent = "30"          # no promotion may take more than 30 % off
 * maxAmount = "50.00"        # nor more than 50.00 (bundle currency) as a fixed amount
 * maxBudget = "100000"       # every promotion needs a budget of at most this
 * maxDurationDays = 45       # startsAt..endsAt at most 45 days (no end: a violation)
 * forbidOverlap = true       # stacking overlaps are violations, not warnings
 *
 * [projection]
 * expectedRedemptions = 5000 # per promotion (default 1000)
 * ```
 */
export type Policy = {
  /**
   * Deepest percentage a promotion may grant (decimal string, 0 to 100).
   */
  maxPercent?: DecimalString | number;
  /**
   * Largest fixed amount a promotion may grant, in the bundle currency.
   */
  maxAmount?: DecimalString | number;
  /**
   * Largest budget; a promotion without a budget then violates it (its spend is unbounded).
   */
  maxBudget?: DecimalString | number;
  /**
   * Longest run from `startsAt` to `endsAt`; a promotion missing either violates it.
   */
  maxDurationDays?: number;
  /**
   * Report promotions that can stack on the same items as violations (default: warnings).
   */
  forbidOverlap?: boolean;
  projection?: ProjectionPolicy;
};

/**
 * `[projection]`: how the cost projection scales the sample carts.
 */
export type ProjectionPolicy = {
  /**
   * Redemptions expected per promotion (default 1000).
   */
  expectedRedemptions?: number;
};

/**
 * A bundle's declared arithmetic (`pricing`), as `docs/json-reference.md` describes it.
 */
export type PricingPolicy = Record<string, unknown>;

/**
 * A promotion as `docs/json-reference.md` describes it: the fields of a project's
 * `promotions/*.toml`, in JSON.
 */
export type Promotion = Record<string, unknown>;

/**
 * A trust root's payload (`format`, `version`, `keys`, `thresholds`, `approvals`), as
 * `docs/signing.md` describes it.
 */
export type RootPayload = Record<string, unknown>;

/**
 * A named sample cart.
 */
export type Sample = {
  /**
   * The name lint reports it by (`samples/<name>.json` in a project).
   */
  name: string;
  input: EvaluationInput;
};

/**
 * What the console shows about a draft.
 *
 * `words`, `digest`, `exposure` and `approvers` need a draft the strict reader accepts (the
 * evaluator may still refuse some of its values: see `errors`); `lint`, `conflicts` and
 * `payload` need a valid draft.
 */
export type Review = {
  /**
   * Every reason the draft is invalid, each naming its field; empty when it is valid.
   */
  errors: Array<DraftError>;
  /**
   * The draft in plain words, as `promoseal approve` shows it to an approver.
   */
  words: Array<string>;
  /**
   * The approval digest, lowercase hex: what approvers sign (`seal::approval_digest`).
   */
  digest?: string;
  /**
   * The most the draft can grant as approvals measure it (`seal::Exposure::of`):
   * percentages without trailing zeros, money with the currency's places.
   */
  exposure?: ExposureView;
  /**
   * The roles that must approve the draft, in the root's order, with the keys that can.
   */
  approvers: Array<Approver>;
  /**
   * What `promoseal lint` reports about the draft among the shop's promotions: its own
   * report, with every finding about it (`lint::lint_promotion`).
   */
  lint?: Report;
  /**
   * The current promotions live at the same time as the draft that can discount the same
   * items or shipping, in application order, with whether they stack with it.
   */
  conflicts: Array<Overlap>;
  /**
   * The unsigned bundle payload of the shop's promotions with the draft (`draft_payload`),
   * as JSON text: open it with `Engine.openUnverified` to price carts.
   */
  payload?: string;
};

/**
 * A role that must approve the draft.
 */
export type Approver = {
  role: string;
  /**
   * Approvals by distinct keys of the role that the root requires (its threshold).
   */
  required: number;
  /**
   * The root's keys holding the role, in the root's order.
   */
  keys: Array<ApproverKey>;
  /**
   * At least `required` of the keys cover the draft: otherwise no approval under this root
   * can release it as it stands.
   */
  coverable: boolean;
};

/**
 * A key that may approve for a role.
 */
export type ApproverKey = {
  keyId: string;
  /**
   * The draft is within the key's authorization limits (a key without limits covers
   * anything): its approval would count.
   */
  covers: boolean;
};

/**
 * One reason a draft is invalid.
 */
export type DraftError = {
  /**
   * The field, as the evaluator's strict JSON reader names it (`reward.percent`,
   * `loyaltyBonus[0].tier`); `$` for the draft as a whole (not JSON, a missing field).
   */
  path: string;
  message: string;
};

/**
 * The most a promotion can take off, as printed: percentages without trailing zeros, money
 * with the currency's places.
 */
export type ExposureView = { maxPercent?: string; maxAmount?: string; budget?: string };

/**
 * A current promotion the draft meets: both are live at some time and can discount the same
 * thing (the evaluator's analysis API says so).
 */
export type Overlap = {
  promotionId: string;
  name: string;
  class: DiscountClass;
  /**
   * The first stretch of time both are live.
   */
  liveTogether: LiveSpan;
  /**
   * Why both can discount the same thing.
   */
  target: SharedTarget;
  /**
   * Whether one cart can get both.
   */
  combination: Combination;
};

/**
 * Whether two promotions can both apply to one cart (the evaluator's
 * `analysis::Combination`).
 */
export type Combination =
  | { "kind": "combines" }
  | { "kind": "disjointLinesOnly" }
  | { "kind": "never"; conflicts: Array<Conflict> };

/**
 * One reason two promotions never both apply (the evaluator's `analysis::Conflict`).
 */
export type Conflict =
  | { "kind": "exclusive"; promotion: string }
  | { "kind": "sameGroup"; group: string }
  | { "kind": "classRefused"; promotion: string; class: DiscountClass }
  | { "kind": "bestOnly" };

/**
 * A stretch of time `[start, end)`; an absent end is open.
 */
export type LiveSpan = { start?: Instant; end?: Instant };

/**
 * Why two promotions can discount the same thing (the evaluator's `analysis::SharedTarget`).
 */
export type SharedTarget =
  | { "kind": "everyItem" }
  | { "kind": "everyItemAnd"; dimension: Dimension; value: string }
  | { "kind": "named"; dimension: Dimension; value: string }
  | { "kind": "shipping" };

/**
 * The include (and exclude) lists of a selector.
 */
export type Dimension = "sku" | "product" | "category" | "brand" | "tag";

/**
 * What lint says: the findings of every promotion linted, its exposure and projected cost.
 */
export type Report = {
  currency: string;
  violations: number;
  warnings: number;
  promotions: Array<PromotionReport>;
};

/**
 * What lint says about one promotion.
 */
export type PromotionReport = {
  id: string;
  name: string;
  class: DiscountClass;
  exposure: ExposureView;
  /**
   * Absent when no sample carts were given.
   */
  projection?: Projection;
  findings: Array<Finding>;
};

/**
 * One thing lint found about a promotion (or a pair of them).
 */
export type Finding = {
  promotionId: string;
  /**
   * The rule: `maxPercent`, `maxAmount`, `maxBudget`, `maxDurationDays`, `codeWithoutLimit`,
   * `exclusiveCombines`, `groupPriorityTie` or `overlap`.
   */
  rule: string;
  severity: Severity;
  message: string;
  /**
   * Other promotions the finding is about (stacking rules).
   */
  related?: Array<string>;
};

/**
 * How serious a finding is.
 */
export type Severity = "violation" | "warning";

/**
 * What a promotion costs on the sample carts, evaluated alone.
 */
export type Projection = {
  samples: number;
  /**
   * Samples the promotion took something off (the redemptions).
   */
  redemptions: number;
  /**
   * Mean discount over the redemptions, rounded half up to the currency's places.
   */
  averageDiscount: Money;
  expectedRedemptions: number;
  /**
   * `sum of discounts × expectedRedemptions ÷ redemptions`, rounded once.
   */
  projectedSpend: Money;
  /**
   * The promotion's budget (`limits.budget`) when the projected spend is above it: the
   * ledger stops the promotion there, so it is what the promotion can cost at most.
   */
  budgetCapsAt?: Money;
  worstCase?: WorstCase;
  /**
   * Present when every targeted line of every redeeming sample gives a `unitCost`.
   */
  margin?: MarginImpact;
};

/**
 * The discount against the margin of the targeted lines before the promotion, summed over the
 * redeeming samples.
 */
export type MarginImpact = {
  /**
   * Targeted line amounts before the promotion (in the price basis).
   */
  revenue: Money;
  cost: Money;
  discount: Money;
  /**
   * `discount ÷ (revenue − cost) × 100`, two places; absent when there is no margin.
   */
  percentOfMargin?: string;
};

/**
 * The sample cart a promotion takes the most off.
 */
export type WorstCase = { sample: string; discount: Money };

/**
 * What `windows` expands: a window that recurs on some weekdays between two wall-clock times
 * of a named time zone, and the range of instants to expand it over.
 */
export type WindowsInput = {
  /**
   * The IANA time zone of the times (the shop's `timeZone`), e.g. `Europe/Paris`.
   */
  zone: string;
  /**
   * The weekdays it recurs on: `mon` … `sun` or `monday` … `sunday`, in any case. Empty or
   * absent: every day.
   */
  days?: Array<string>;
  /**
   * The opening wall-clock time, `HH:MM` (or `HH:MM:SS`).
   */
  from: string;
  /**
   * The closing wall-clock time; at or before `from`, it is the next day's (an overnight
   * window).
   */
  to: string;
  /**
   * The start of the range to expand (RFC 3339), e.g. the promotion's `startsAt`.
   */
  start: string;
  /**
   * The end of the range (RFC 3339, exclusive), e.g. the promotion's `endsAt`.
   */
  until: string;
};

/**
 * One UTC interval, `[start, end)`: an entry of a promotion's `intervals`.
 */
export type Interval = {
  /**
   * RFC 3339, UTC (`2027-03-08T22:00:00Z`).
   */
  start: string;
  /**
   * RFC 3339, UTC; after `start`.
   */
  end: string;
};
