// The review of a promotion as the editor's side panel and the promotion page show it: every
// figure comes from the core's review (wasm in this page) and every price from the evaluator
// (wasm, `Engine.openUnverified` on the review's draft payload). Nothing here computes a rule.
import { el, evaluator, fill, formatInstant, instantToZoned, zonedToInstant } from "./common.js";

const CLASS_WORDS = { product: "product discount", order: "order discount", shipping: "shipping discount" };

/** The words, `review.words`. */
export function wordsList(review) {
  if (!review.words?.length) return el("p", { class: "muted" }, "Nothing to describe until the terms can be read.");
  return el("ul", { class: "words" }, review.words.map((w) => el("li", {}, w)));
}

/** How many of a promotion's time windows are listed; the rest are counted. */
const WINDOWS_SHOWN = 40;

let dayFormat = null;
const zoneFormats = new Map();

/** A `YYYY-MM-DD` date in words: `Mon, Mar 8, 2027`. */
function dayWords(date) {
  dayFormat ??= new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
  return dayFormat.format(new Date(`${date}T00:00:00Z`));
}

/** The short name of the offset `timeZone` has at an instant (`EST`, `GMT+1`). */
function zoneName(instant, timeZone) {
  let f = zoneFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "short" });
    zoneFormats.set(timeZone, f);
  }
  return f.formatToParts(new Date(instant)).find((p) => p.type === "timeZoneName")?.value || timeZone;
}

/** One UTC interval as the shop's wall clock reads it: `Mon, Mar 8, 2027, 17:00–19:00 EST`. */
function windowWords(interval, timeZone) {
  const a = instantToZoned(interval.start, timeZone);
  const b = instantToZoned(interval.end, timeZone);
  if (!a || !b) return `${interval.start} – ${interval.end}`;
  const za = zoneName(interval.start, timeZone);
  const zb = zoneName(interval.end, timeZone);
  const from = za === zb ? a.time : `${a.time} ${za}`;
  if (a.date === b.date) return `${dayWords(a.date)}, ${from}–${b.time} ${zb}`;
  return `${dayWords(a.date)}, ${from} – ${dayWords(b.date)}, ${b.time} ${zb}`;
}

/**
 * A promotion's time windows (`intervals`, UTC) in the shop's time zone, each with its UTC
 * instants as its title.
 */
export function windowsView(intervals, timeZone) {
  if (!Array.isArray(intervals)) {
    return el("p", { class: "muted" }, "No recurring window: live at any time between its start and end.");
  }
  if (!intervals.length) return el("p", { class: "error-text" }, "An empty list of time windows: it is never live.");
  const n = intervals.length;
  const shown = intervals.slice(0, WINDOWS_SHOWN);
  const last = intervals[n - 1];
  return [
    el("p", {}, `Live only inside ${n} time window${n === 1 ? "" : "s"} (the shop's time, ${timeZone}):`),
    el(
      "ol",
      { class: "windows", id: "window-list" },
      shown.map((iv) =>
        el("li", { title: `${iv.start} – ${iv.end} (UTC)`, dataset: { start: iv.start, end: iv.end } }, windowWords(iv, timeZone)),
      ),
    ),
    n > shown.length ? el("p", { class: "hint" }, `… and ${n - shown.length} more, the last ${windowWords(last, timeZone)}.`) : null,
  ];
}

/** Who must approve (`review.approvers`), marking the signed-in key. */
export function approversView(review, me) {
  if (!review.approvers?.length) {
    return el("p", { class: "muted" }, review.digest ? "The trust root asks for no approval." : "Known once the terms can be read.");
  }
  return el(
    "ul",
    { class: "approvers" },
    review.approvers.map((a) =>
      el(
        "li",
        { dataset: { role: a.role } },
        el("strong", {}, a.role),
        `: ${a.required} approval${a.required === 1 ? "" : "s"} needed`,
        a.coverable ? null : el("p", { class: "error-text" }, `No ${a.role} key's limits cover these terms: no approval under this trust root can release them as they stand.`),
        el(
          "ul",
          { class: "keys" },
          a.keys.map((k) =>
            el(
              "li",
              { class: k.covers ? "covers" : "beyond", dataset: { keyId: k.keyId } },
              k.keyId,
              me && k.keyId === me.keyId ? " (you)" : "",
              " · ",
              k.covers ? "within its limits" : "beyond its limits",
            ),
          ),
        ),
      ),
    ),
  );
}

/** The most the terms can grant (`review.exposure`). */
export function exposureView(review, currency) {
  const e = review.exposure;
  if (!e) return el("p", { class: "muted" }, "Known once the terms can be read.");
  return el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Deepest percentage"),
    el("dd", {}, e.maxPercent ? `${e.maxPercent} %` : "none"),
    el("dt", {}, "Largest fixed amount"),
    el("dd", {}, e.maxAmount ? `${e.maxAmount} ${currency}` : "none"),
    el("dt", {}, "Budget"),
    el("dd", {}, e.budget ? `${e.budget} ${currency}` : "none: the spend is unbounded"),
  );
}

/** The draft's lint report: findings, projected cost, worst case, margin. */
export function lintView(review, currency) {
  const report = review.lint;
  if (!report) return el("p", { class: "muted" }, "Lint runs once the terms are valid.");
  const p = report.promotions?.[0];
  const findings = report.promotions.flatMap((x) => x.findings);
  const out = [];
  out.push(
    findings.length
      ? el(
          "ul",
          { class: "findings" },
          findings.map((f) =>
            el(
              "li",
              { class: `finding finding-${f.severity}`, dataset: { rule: f.rule } },
              el("span", { class: `badge badge-${f.severity}` }, f.severity),
              " ",
              f.message,
            ),
          ),
        )
      : el("p", { class: "ok-text" }, "No findings against the shop's policy."),
  );
  const pr = p?.projection;
  const facts = el("dl", { class: "facts" });
  if (!pr) {
    append2(facts, "Projected cost", "no sample carts");
  } else if (pr.redemptions === 0) {
    append2(facts, "Projected cost", `0 ${currency}: it took nothing off any of the ${pr.samples} sample carts`);
  } else {
    append2(
      facts,
      "Projected cost",
      pr.budgetCapsAt
        ? `at most ${pr.budgetCapsAt} ${currency}: its budget stops it there (without the budget, ${pr.projectedSpend} ${currency} for ${pr.expectedRedemptions} redemptions, average ${pr.averageDiscount} ${currency}, over the ${pr.redemptions} of ${pr.samples} sample carts it applied to)`
        : `${pr.projectedSpend} ${currency} for ${pr.expectedRedemptions} redemptions (average ${pr.averageDiscount} ${currency}, over the ${pr.redemptions} of ${pr.samples} sample carts it applied to)`,
      "projected-cost",
    );
    if (pr.worstCase) append2(facts, "Worst case", `${pr.worstCase.discount} ${currency} off sample “${pr.worstCase.sample}”`);
    const m = pr.margin;
    append2(
      facts,
      "Margin impact",
      m
        ? m.percentOfMargin
          ? `the discount eats ${m.percentOfMargin} % of the margin on the targeted items (revenue ${m.revenue}, cost ${m.cost}, discount ${m.discount} ${currency})`
          : `the targeted items already sell at or below cost (revenue ${m.revenue}, cost ${m.cost})`
        : "unknown (not every targeted sample line has a unit cost)",
      "margin",
    );
  }
  out.push(facts);
  return out;
}

function append2(dl, term, value, id) {
  dl.append(el("dt", {}, term), el("dd", { dataset: id ? { fact: id } : undefined }, value));
}

function targetWords(t) {
  switch (t.kind) {
    case "everyItem":
      return "both discount every item";
    case "everyItemAnd":
    case "named":
      return `both can discount ${t.dimension} “${t.value}”`;
    case "shipping":
      return "both discount shipping";
    default:
      return t.kind;
  }
}

function conflictWords(c) {
  switch (c.kind) {
    case "exclusive":
      return `${c.promotion} is exclusive`;
    case "sameGroup":
      return `both are in the stacking group “${c.group}”`;
    case "classRefused":
      return `${c.promotion} does not combine with ${CLASS_WORDS[c.class] || c.class}s`;
    case "bestOnly":
      return "the shop applies only the single best promotion";
    default:
      return c.kind;
  }
}

function combinationWords(c) {
  switch (c.kind) {
    case "combines":
      return "they stack";
    case "disjointLinesOnly":
      return "both apply only to carts where no item gets both";
    case "never":
      return `never both in one cart (the better for the shopper wins): ${c.conflicts.map(conflictWords).join("; ")}`;
    default:
      return c.kind;
  }
}

/** The live promotions the terms meet (`review.conflicts`). */
export function conflictsView(review, timeZone) {
  if (!review.lint) return el("p", { class: "muted" }, "Known once the terms are valid.");
  if (!review.conflicts.length) return el("p", { class: "ok-text" }, "No overlap with the shop's promotions.");
  return el(
    "ul",
    { class: "conflicts" },
    review.conflicts.map((o) => {
      const span = o.liveTogether;
      const when = `${span.start ? `from ${formatInstant(span.start, timeZone)}` : "from now"}${span.end ? ` until ${formatInstant(span.end, timeZone)}` : ""}`;
      return el(
        "li",
        { dataset: { promotion: o.promotionId } },
        el("a", { href: `/promotions/${encodeURIComponent(o.promotionId)}` }, o.name),
        ` (${o.promotionId}, ${CLASS_WORDS[o.class] || o.class}): ${targetWords(o.target)}, live together ${when}; ${combinationWords(o.combination)}.`,
      );
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Cart simulator

const REASONS = {
  noEligibleItems: () => "no item of the cart is targeted",
  outOfStock: () => "the targeted items are out of stock",
  notStarted: (r) => `not started yet (starts ${r.startsAt})`,
  ended: (r) => `ended at ${r.endedAt}`,
  outsideWindow: () => "outside its time windows",
  channelMismatch: () => "another sales channel",
  customerTierMismatch: () => "the customer's tier is not one it is for",
  segmentMismatch: () => "the customer is in none of its segments",
  firstOrderMismatch: (r) => (r.required ? "for first orders only" : "for returning customers only"),
  regionMismatch: () => "the customer's region is not one it is for",
  codeMissing: () => "no code of its code set entered",
  belowMinimumSubtotal: (r) => `below the minimum spend (${r.missing} more needed)`,
  aboveMaximumSubtotal: () => "above the maximum spend",
  belowMinimumQuantity: (r) => `below the minimum quantity (${r.missing} more needed)`,
  shippingNotEligible: () => "the shipping method or country is not covered",
  noDiscount: () => "it would take nothing off",
  notCombinable: (r) => `does not combine with ${r.with.join(", ")}`,
  lostToCombination: (r) => `a better combination for the shopper won (${r.winners.join(", ")})`,
};

export function reasonWords(reason) {
  const f = REASONS[reason?.code];
  return f ? f(reason) : reason?.code || "did not apply";
}

/**
 * Opens the review's draft payload with the evaluator (`Engine.openUnverified`). Answers
 * `{engine}` or `{error}`; the caller frees the engine it replaces.
 */
export async function openDraft(review) {
  if (!review.payload) return { error: "the terms are not valid yet" };
  const { Engine } = await evaluator();
  const o = Engine.openUnverified(review.payload);
  return o.ok ? { engine: o.value } : { error: o.error.message };
}

/**
 * When to price carts at: the chosen wall-clock time (shop time zone) if any, else the
 * promotion's start if it lies ahead, else now (moved before its end).
 */
export function pricingInstant(terms, chosen, timeZone) {
  if (chosen?.date) {
    const t = zonedToInstant(chosen.date, chosen.time || "12:00", timeZone);
    if (t) return t;
  }
  const now = new Date();
  now.setMilliseconds(0);
  let t = now.getTime();
  const start = Date.parse(terms?.startsAt ?? "");
  const end = Date.parse(terms?.endsAt ?? "");
  if (!Number.isNaN(start) && start > t) t = start;
  if (!Number.isNaN(end) && t >= end) t = end - 1000;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** One priced cart: totals, what applied, and why the promotion under review did not. */
export function evaluationView(engine, input, draftId, currency, label) {
  const o = engine.evaluate(input, { notApplied: "all" });
  if (!o.ok) {
    return el("div", { class: "sim-result error-text" }, `${label}: ${o.error.message}${o.error.path ? ` (${o.error.path})` : ""}`);
  }
  const e = o.value;
  const mine = e.applied.find((a) => a.promotionId === draftId);
  const notMine = e.notApplied.find((n) => n.promotionId === draftId);
  return el(
    "div",
    { class: "sim-result", dataset: { sample: label } },
    el("h4", {}, label),
    el(
      "dl",
      { class: "facts totals" },
      el("dt", {}, "Subtotal"),
      el("dd", {}, `${e.subtotal} ${currency}`),
      el("dt", {}, "Discount"),
      el("dd", { dataset: { fact: "discount" } }, `${e.discountTotal} ${currency}`),
      e.shipping ? [el("dt", {}, "Shipping"), el("dd", {}, `${e.shipping.total} ${currency}`)] : null,
      el("dt", {}, "Tax"),
      el("dd", {}, `${e.taxTotal} ${currency}`),
      el("dt", {}, "Total"),
      el("dd", { dataset: { fact: "total" } }, `${e.total} ${currency}`),
    ),
    el(
      "p",
      { class: mine ? "ok-text" : "muted", dataset: { fact: "this-promotion" } },
      mine
        ? `This promotion: ${mine.amount} ${currency} off${mine.code ? ` (code ${mine.code})` : ""}.`
        : `This promotion does not apply: ${notMine ? reasonWords(notMine.reason) : "not in the bundle"}.`,
    ),
    e.applied.length
      ? el(
          "ul",
          { class: "applied" },
          e.applied.map((a) =>
            el("li", { class: a.promotionId === draftId ? "mine" : "" }, `${a.name}: ${a.amount} ${currency}`),
          ),
        )
      : el("p", { class: "muted" }, "No promotion applies."),
    e.pendingLedger.some((p) => p.promotionId === draftId)
      ? el("p", { class: "hint" }, "Its usage limits are confirmed by the ledger at checkout.")
      : null,
  );
}

/** The pricing time as the simulator shows it. */
export function pricedAtWords(instant, timeZone) {
  const z = instantToZoned(instant, timeZone);
  return z ? `Priced at ${formatInstant(instant, timeZone)}` : "";
}

/**
 * The cart simulator in `container`: the shop's sample carts and a cart of one's own, priced by
 * the evaluator on the review's draft payload at a chosen time. `update(review, terms)` after
 * every review.
 */
export function mountSimulator(container, context) {
  const currency = context.currency;
  const timeZone = context.timeZone || "UTC";
  let engine = null;
  let review = null;
  let terms = null;
  let openSeq = 0;

  const at = el("p", { class: "hint", id: "sim-at" });
  const samplesOut = el("div", { id: "sim-samples", class: "sim-results" });
  const ownOut = el("div", { id: "sim-own", class: "sim-results" });
  const lines = el("div", { id: "sim-lines", class: "rows" });
  const rows = [];

  const input = (id, label, attrs = {}) => {
    const i = el("input", { type: "text", id, autocomplete: "off", spellcheck: "false", ...attrs });
    return [i, el("div", { class: "field" }, el("label", { for: id }, label), i)];
  };

  const [simDate, simDateField] = input("sim-date", "Price on (date)", { type: "date" });
  const [simTime, simTimeField] = input("sim-time", "At (time)", { type: "time" });

  function addLine(line = {}) {
    const n = rows.length + 1;
    const row = {
      sku: el("input", { type: "text", id: `sim-line-${n}-sku`, value: line.sku || "", autocomplete: "off" }),
      categories: el("input", { type: "text", id: `sim-line-${n}-categories`, value: (line.categories || []).join(", "), autocomplete: "off" }),
      brand: el("input", { type: "text", id: `sim-line-${n}-brand`, value: line.brand || "", autocomplete: "off" }),
      price: el("input", { type: "text", inputmode: "decimal", id: `sim-line-${n}-price`, value: line.unitPrice || "", autocomplete: "off" }),
      qty: el("input", { type: "text", inputmode: "numeric", id: `sim-line-${n}-quantity`, value: String(line.quantity ?? 1), autocomplete: "off" }),
    };
    rows.push(row);
    const cell = (i, label) => el("div", { class: "field" }, el("label", { for: i.id }, label), i);
    lines.append(
      el(
        "div",
        { class: "row sim-line" },
        cell(row.sku, `Line ${n}: SKU`),
        cell(row.categories, `Line ${n}: categories`),
        cell(row.brand, `Line ${n}: brand`),
        cell(row.price, `Line ${n}: unit price`),
        cell(row.qty, `Line ${n}: quantity`),
      ),
    );
  }

  const first = context.samples?.[0]?.input;
  for (const l of first?.cart?.lines || [{}]) addLine(l);
  const ship = first?.context?.shipping;
  const [tier, tierField] = input("sim-tier", "Customer tier");
  const [segments, segmentsField] = input("sim-segments", "Customer segments");
  const [region, regionField] = input("sim-region", "Customer region");
  const [channel, channelField] = input("sim-channel", "Sales channel", { value: first?.context?.channel || "" });
  const [codes, codesField] = input("sim-codes", "Codes entered", { "aria-describedby": "sim-codes-hint" });
  const [shipMethod, shipMethodField] = input("sim-ship-method", "Shipping method", { value: ship?.method || "" });
  const [shipAmount, shipAmountField] = input("sim-ship-amount", "Shipping amount", { inputmode: "decimal", value: ship?.amount || "" });
  const [shipCountry, shipCountryField] = input("sim-ship-country", "Shipping country", { value: ship?.country || "" });
  const firstOrder = el("input", { type: "checkbox", id: "sim-first-order" });

  const form = el(
    "form",
    { id: "sim-form", class: "sim-form", "aria-label": "Your own cart" },
    lines,
    el("button", { type: "button", class: "quiet", onclick: () => (addLine(), priceOwn()) }, "Add a line"),
    el("div", { class: "grid2" }, tierField, segmentsField, regionField, channelField),
    el("div", { class: "field check" }, firstOrder, el("label", { for: "sim-first-order" }, "First order (no past orders)")),
    codesField,
    el("p", { class: "hint", id: "sim-codes-hint" }, "Comma-separated. In the simulator every code set accepts the code PREVIEW."),
    el("div", { class: "grid2" }, shipMethodField, shipAmountField, shipCountryField),
  );
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("input", () => priceOwn());

  fill(
    container.querySelector(".sim-body") || container.appendChild(el("div", { class: "sim-body" })),
    el("div", { class: "grid2" }, simDateField, simTimeField),
    el("p", { class: "hint" }, `Blank: when the promotion is live (its start, or now). Times are the shop's (${timeZone}).`),
    at,
    el("h4", {}, "Sample carts"),
    samplesOut,
    el("details", { class: "own-cart", open: true }, el("summary", {}, "Your own cart"), form, ownOut),
  );
  simDate.addEventListener("input", () => priceAll());
  simTime.addEventListener("input", () => priceAll());

  function instant() {
    return pricingInstant(terms, { date: simDate.value, time: simTime.value }, timeZone);
  }

  function ownInput(now) {
    const list = rows
      .map((r, i) => ({
        id: String(i + 1),
        sku: r.sku.value.trim(),
        categories: r.categories.value.split(",").map((c) => c.trim()).filter(Boolean),
        brand: r.brand.value.trim() || undefined,
        unitPrice: r.price.value.trim(),
        quantity: /^\d+$/.test(r.qty.value.trim()) ? Number(r.qty.value.trim()) : r.qty.value.trim(),
      }))
      .filter((l) => l.sku || l.unitPrice);
    const ctx = { now, codes: codes.value.split(",").map((c) => c.trim()).filter(Boolean) };
    if (channel.value.trim()) ctx.channel = channel.value.trim();
    if (shipMethod.value.trim() || shipAmount.value.trim()) {
      ctx.shipping = { method: shipMethod.value.trim(), amount: shipAmount.value.trim() };
      if (shipCountry.value.trim()) ctx.shipping.country = shipCountry.value.trim();
    }
    const customer = { id: "simulated-customer", ordersCount: firstOrder.checked ? 0 : 1 };
    if (tier.value.trim()) customer.tier = tier.value.trim();
    const segs = segments.value.split(",").map((c) => c.trim()).filter(Boolean);
    if (segs.length) customer.segments = segs;
    if (region.value.trim()) customer.region = region.value.trim();
    return { cart: { currency, lines: list }, customer, context: ctx };
  }

  function priceOwn() {
    if (!engine) return;
    fill(ownOut, evaluationView(engine, ownInput(instant()), terms?.id, currency, "Your cart"));
  }

  function priceAll() {
    if (!engine) {
      fill(samplesOut, el("p", { class: "muted" }, review?.errors?.length ? "Fix the terms to price carts." : "Waiting for valid terms…"));
      ownOut.replaceChildren();
      at.textContent = "";
      return;
    }
    const now = instant();
    at.textContent = pricedAtWords(now, timeZone);
    const samples = context.samples || [];
    fill(
      samplesOut,
      samples.length
        ? samples.map((s) => {
            const input = structuredClone(s.input);
            input.context = { ...input.context, now };
            return evaluationView(engine, input, terms?.id, currency, s.name);
          })
        : el("p", { class: "muted" }, "The shop has no sample carts (samples/*.json)."),
    );
    priceOwn();
  }

  return {
    async update(nextReview, nextTerms) {
      review = nextReview;
      terms = nextTerms;
      const seq = ++openSeq;
      const opened = nextReview ? await openDraft(nextReview) : { error: "no review" };
      if (seq !== openSeq) {
        opened.engine?.free();
        return;
      }
      engine?.free();
      engine = opened.engine || null;
      priceAll();
    },
  };
}

export { fill };
