// Generated from the Rust types (evaluator-wasm/src/declarations.rs): do not edit. After a
// change to the types: UPDATE_TYPES=1 cargo test -p promoseal-evaluator-wasm declarations

/**
 * What every call returns: a value, or a failure. Nothing is thrown.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Failure };

/**
 * Why a call failed.
 */
export type Failure = {
  /**
   * Stable: `invalidArgument`, `invalidBundle`, `invalidTrustRoot`, `invalidInput`,
   * `evaluationFailed`, `invalidGrant`, or `freed` (an `Engine` called after `free()`; the
   * package's glue answers it, evaluator-wasm/npm/freed.js).
   */
  code: string;
  /**
   * One line in plain words. For signatures it is only "invalid bundle" (or root, grant).
   */
  message: string;
  /**
   * Signatures: the stable reason (`badSignature`, `expired`, `rollback`, …), for logs.
   */
  reason?: string;
  /**
   * Signatures: the reason in words, for logs.
   */
  detail?: string;
  /**
   * Input and bundle errors: the JSON path of the offending field (`cart.lines[2].quantity`).
   */
  path?: string;
};

/**
 * Bytes exactly as signed. A string is read as UTF-8; prefer the bytes.
 */
export type Bytes = Uint8Array | ArrayBuffer | string;

/**
 * `Engine.open`'s options.
 */
export type OpenOptions = {
  /**
   * Who this host is: a browser is a `storefront` (the default).
   */
  audience?: Audience;
  /**
   * Verification time; default: the host's clock.
   */
  now?: Instant;
  /**
   * Root rotations to apply to the given root, oldest first (each signed by the one before).
   */
  rotations?: Array<Bytes>;
  /**
   * The highest version this host accepted before (persist `engine.accepted`): older
   * versions are refused, and the same version only with the same bytes.
   */
  highestAccepted?: AcceptedVersion;
  /**
   * Largest payload read, in bytes (default 32 MiB).
   */
  maxPayload?: number;
};

/**
 * A bundle version a host accepted: `engine.accepted`, passed back as `highestAccepted`.
 */
export type AcceptedVersion = {
  version: number;
  /**
   * SHA-256 of the accepted payload, lowercase hex.
   */
  digest: string;
};

/**
 * Who a bundle is for: the edge (may hold code material) or the public storefront.
 */
export type Audience = "edge" | "storefront";

/**
 * A point in time, in whole seconds since 1970-01-01T00:00:00Z (fractions are truncated). It
 * reads any RFC 3339 instant and writes UTC to the second (`2026-06-01T12:00:00Z`).
 */
export type Instant = string;

/**
 * A trust root and its rotations, verified (`inspectRoot`).
 */
export type RootInfo = {
  version: number;
  /**
   * SHA-256 of the root payload, lowercase hex.
   */
  digest: string;
  expiresAt?: Instant;
};

/**
 * `engine.evaluate`'s options.
 */
export type EvaluateOptions = {
  /**
   * Which promotions `notApplied` lists: `"all"` (the default, byte-identical to every host),
   * `"cart"` (leaves out those that target no line of the cart: usually most of a large
   * bundle) or `"none"` (an empty list). The rest of the evaluation is the same.
   */
  notApplied?: NotAppliedView;
};

/**
 * Which promotions an evaluation's `notApplied` lists: `all` (the default, byte-identical on
 * every host), `cart` (leaves out those that target no line of the cart: usually most of a
 * large bundle) or `none` (an empty list). The rest of the evaluation is the same.
 */
export type NotAppliedView = "all" | "cart" | "none";

/**
 * `engine.checkGrant`'s options.
 */
export type GrantCheck = {
  /**
   * Check time; default: the host's clock.
   */
  now?: Instant;
  /**
   * Who evaluates: a grant issued to a subject unlocks only for the same one.
   */
  subject?: string;
};

/**
 * A code grant's claims: which promotion of which bundle it unlocks, for whom, and when.
 */
export type GrantInfo = {
  bundleId: string;
  promotion: string;
  audience: Audience;
  /**
   * Who it was issued to (a session or customer id); the evaluation must name the same.
   */
  subject?: string;
  issuedAt: Instant;
  expiresAt: Instant;
};

/**
 * What is evaluated: a cart, who is buying, and the circumstances.
 */
export type EvaluationInput = { cart: Cart; customer?: Customer | null; context: Context };

export type Cart = { currency: string; lines: Array<Line> };

export type Line = {
  id: string;
  sku: string;
  product?: string | null;
  categories?: Array<string>;
  brand?: string | null;
  tags?: Array<string>;
  unitPrice: DecimalString;
  quantity: number;
  /**
   * Percent, e.g. `"20"` or `"8.875"`; default 0.
   */
  taxRate?: DecimalString | null;
  onSale?: boolean;
  /**
   * Units in stock; absent means not tracked.
   */
  stockAvailable?: number | null;
  unitCost?: DecimalString | null;
  /**
   * The lowest price per unit promotions may take the line to (a minimum advertised price,
   * a variant's minimum price); absent: no floor of its own.
   */
  floorUnitPrice?: DecimalString | null;
};

/**
 * A non-negative decimal read from a JSON string such as `"19.99"`.
 *
 * Only plain digits with an optional fraction are accepted: no sign, exponent, underscores or
 * spaces, and never a JSON number (a float would already have lost the exact value).
 */
export type DecimalString = string;

export type Context = {
  now: Instant;
  channel?: string | null;
  shipping?: Shipping | null;
  /**
   * Several shipments (instead of `shipping`), each with its id, method and amount.
   */
  shipments?: Array<Shipment>;
  codes?: Array<string>;
  /**
   * Code grants from the edge (`keyId.payload.signature`), accepted in place of codes by a
   * bundle opened with a trust root.
   */
  grants?: Array<string>;
  /**
   * Who is evaluating (a session or customer id); a grant issued to a subject only unlocks
   * for that subject.
   */
  subject?: string | null;
  /**
   * The shop's signed word for `customer` (`keyId.payload.signature`, a `shop` key's): the
   * edge and the ledger price with the claim's customer and nothing else
   * (`seal::vouch`). Evaluation itself reads `customer`.
   */
  customerClaim?: string | null;
};

/**
 * One shipment of a cart with several.
 */
export type Shipment = {
  id: string;
  method: string;
  amount: DecimalString;
  country?: string | null;
  taxRate?: DecimalString | null;
};

export type Shipping = {
  method: string;
  amount: DecimalString;
  country?: string | null;
  taxRate?: DecimalString | null;
};

export type Customer = {
  id?: string | null;
  email?: string | null;
  tier?: string | null;
  segments?: Array<string>;
  ordersCount?: number | null;
  region?: string | null;
};

export type Evaluation = {
  bundleId: string;
  bundleVersion: number;
  currency: string;
  evaluatedAt: Instant;
  taxMode: TaxMode;
  /**
   * Sum of the line amounts before any discount (gross when prices include tax).
   */
  subtotal: Money;
  /**
   * Line discounts plus the shipping discount.
   */
  discountTotal: Money;
  shipping?: ShippingOutcome;
  /**
   * The shipments of an input with `context.shipments`, in input order.
   */
  shipments?: Array<ShippingOutcome>;
  /**
   * All tax: lines and shipping (included in `total` when prices include tax).
   */
  taxTotal: Money;
  /**
   * What the shopper pays.
   */
  total: Money;
  lines: Array<LineOutcome>;
  /**
   * The receipt: one entry per applied promotion with its total and its parts.
   */
  applied: Array<AppliedDiscount>;
  /**
   * Every promotion that did not apply, with the reason.
   */
  notApplied: Array<Ineligible>;
  /**
   * Promotions held back only by a spend or quantity threshold: what is missing.
   */
  unlocks: Array<Unlock>;
  /**
   * Limits the ledger must confirm before the applied discounts are final.
   */
  pendingLedger: Array<LedgerCheck>;
};

export type AppliedDiscount = {
  promotionId: string;
  name: string;
  class: DiscountClass;
  /**
   * Total of this promotion: its line parts plus its shipping part.
   */
  amount: Money;
  lines?: Array<LineAmount>;
  /**
   * Its part on shipping (every shipment together).
   */
  shipping?: Money;
  /**
   * Its part on each shipment, when the input has `context.shipments`.
   */
  shipments?: Array<ShipmentAmount>;
  /**
   * The code that unlocked it, in its canonical spelling ([`crate::Bundle::canonical_code`]).
   */
  code?: string;
};

export type DiscountClass = "product" | "order" | "shipping";

export type LineAmount = { lineId: string; amount: Money };

/**
 * An amount of money in one currency: minor units and the currency's exponent. It prints and
 * serializes as a decimal string with exactly the currency's places (`"19.99"`, `"1500"`).
 */
export type Money = string;

/**
 * A promotion's part on one shipment.
 */
export type ShipmentAmount = { shipmentId: string; amount: Money };

export type Ineligible = { promotionId: string; reason: Reason };

/**
 * Why a promotion did not apply. `code` is the stable machine-readable tag.
 */
export type Reason =
  | { "code": "noEligibleItems" }
  | { "code": "outOfStock" }
  | { "code": "notStarted"; startsAt: Instant }
  | { "code": "ended"; endedAt: Instant }
  | { "code": "outsideWindow"; nextStart?: Instant }
  | { "code": "channelMismatch"; channel?: string }
  | { "code": "customerTierMismatch" }
  | { "code": "segmentMismatch" }
  | { "code": "firstOrderMismatch"; required: boolean }
  | { "code": "regionMismatch" }
  | { "code": "codeMissing" }
  | { "code": "belowMinimumSubtotal" } & SpendShortfall
  | { "code": "aboveMaximumSubtotal" } & SpendExcess
  | { "code": "belowMinimumQuantity"; minimum: number; current: number; missing: number }
  | { "code": "shippingNotEligible" }
  | { "code": "noDiscount" }
  | { "code": "notCombinable"; with: Array<string> }
  | { "code": "lostToCombination"; winners: Array<string> };

export type SpendExcess = { maximum: Money; current: Money };

/**
 * The targeted subtotal against a minimum (boxed: rare, and it keeps [`Reason`] small).
 */
export type SpendShortfall = { minimum: Money; current: Money; missing: Money };

export type LedgerCheck = {
  promotionId: string;
  discount: Money;
  totalUses?: number;
  perCode?: number;
  perCustomer?: number;
  perDay?: number;
  budget?: Money;
  singleUseCode?: boolean;
  code?: string;
  customerId?: string;
};

export type LineOutcome = {
  id: string;
  quantity: number;
  unitPrice: Money;
  /**
   * `unitPrice × quantity`.
   */
  amount: Money;
  discount: Money;
  /**
   * `amount − discount`.
   */
  total: Money;
  taxRate: Percent;
  /**
   * Tax on `total` (part of it when prices include tax).
   */
  tax: Money;
  /**
   * `unitCost × quantity`, when the cart gives a unit cost (for margin reports).
   */
  cost?: Money;
  /**
   * The discount of this line by promotion; the parts sum to `discount`.
   */
  allocations?: Array<Allocation>;
  /**
   * With `pricing.unitAllocations`: the discount of each unit, as runs of consecutive units
   * with the same discount, in unit order; `quantity × discount` sums to `discount`.
   */
  units?: Array<UnitDiscount>;
};

export type Allocation = { promotionId: string; amount: Money };

/**
 * A percentage in millionths of a percent (`"12.5"` → `12_500_000`), between 0 and 100. It
 * serializes as a decimal string without trailing zeros (`"12.5"`, `"20"`).
 */
export type Percent = string;

/**
 * Consecutive units of a line with the same discount.
 */
export type UnitDiscount = {
  quantity: number;
  /**
   * The discount of each of these units.
   */
  discount: Money;
};

/**
 * The shipping, or one shipment of a cart with several, priced.
 */
export type ShippingOutcome = {
  /**
   * The shipment's id (`context.shipments`); absent for `context.shipping`.
   */
  id?: string;
  method: string;
  amount: Money;
  discount: Money;
  total: Money;
  tax: Money;
};

export type TaxMode = "exclusive" | "inclusive";

export type Unlock = {
  promotionId: string;
  name: string;
  /**
   * Targeted spend still missing (before discounts, in the price basis).
   */
  missingSpend?: Money;
  /**
   * Targeted units still missing.
   */
  missingQuantity?: number;
  /**
   * What the promotion would take off the current cart once unlocked.
   */
  wouldGive: Money;
};
