// Node benchmark harness for the wasm package (nodejs build), timed from the JS call to the JS
// result, beside the native criterion figures for the same workloads, and beside Medusa's
// promotion functions on the features both engines have. Run through scripts/bench-wasm.sh,
// which writes the workload files and runs the native benches first.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const target = process.env.CARGO_TARGET_DIR ?? join(repo, "target");
const work = process.env.PROMOSEAL_WORKLOAD ?? join(target, "workload");
const { Engine } = require("../dist/node/promoseal_evaluator.js");

const file = (name) => readFileSync(join(work, name));
const payload = file("bundle-1000.json");
const cartText = file("cart-20.json").toString();
const cart = JSON.parse(cartText);
const signed = file("signed-1000.env");
const root = file("root.env");
const NOW = "2026-06-01T00:00:00Z";

/** Runs `fn` in rounds until `seconds` have passed; the median and p99 of per-call times. */
function measure(fn, seconds = 3) {
  for (let i = 0; i < 50; i++) fn();
  const samples = [];
  const end = process.hrtime.bigint() + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return { median: at(0.5), p99: at(0.99), n: samples.length };
}

/**
 * Runs the functions in alternation (one call each per round) until `seconds` have passed, so a
 * drift of the shared machine weighs on all of them alike; per function, the median and p99.
 */
function interleaved(fns, seconds = 6) {
  for (let i = 0; i < 20; i++) fns.forEach((fn) => fn());
  const samples = fns.map(() => []);
  const end = process.hrtime.bigint() + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    fns.forEach((fn, i) => {
      const t0 = process.hrtime.bigint();
      fn();
      samples[i].push(Number(process.hrtime.bigint() - t0) / 1000);
    });
  }
  return samples.map((s) => {
    s.sort((a, b) => a - b);
    const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
    return { median: at(0.5), p99: at(0.99), n: s.length };
  });
}

/** A criterion median in µs, when `cargo bench` wrote one. */
function criterion(id) {
  const p = join(target, "criterion", id, "new/estimates.json");
  return existsSync(p) ? JSON.parse(readFileSync(p)).median.point_estimate / 1000 : undefined;
}

const us = (x) => (x === undefined ? "—" : x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(1)} µs`);
const rows = [];
const row = (what, wasm, native) =>
  rows.push({
    what,
    wasm: `${us(wasm.median)} (p99 ${us(wasm.p99)})`,
    native: us(native),
    ratio: native ? `${(wasm.median / native).toFixed(2)}×` : "—",
  });

function must(outcome, what) {
  if (!outcome.ok) throw new Error(`${what}: ${outcome.error.message}`);
  return outcome.value;
}

// 1. A 20-line cart against 1,000 promotions.
const engine = must(Engine.openUnverified(payload), "bundle");
const evaluation = must(engine.evaluate(cart), "evaluate");
const nativeJson = criterion("json/typical-1000-promotions_20-lines");
row("evaluate(object) → object, 20 lines × 1,000 promotions", measure(() => engine.evaluate(cart)), nativeJson);
row(
  'evaluate(object, {notApplied: "cart"}) → object, 20 lines × 1,000 promotions',
  measure(() => engine.evaluate(cart, { notApplied: "cart" })),
  nativeJson,
);
row("evaluateJson(string) → string, 20 lines × 1,000 promotions", measure(() => engine.evaluateJson(cartText)), nativeJson);
row(
  'evaluateJson(string, {notApplied: "cart"}) → string, 20 lines × 1,000 promotions',
  measure(() => engine.evaluateJson(cartText, { notApplied: "cart" })),
  nativeJson,
);
row("unlocks(object) → hints, 20 lines × 1,000 promotions", measure(() => engine.unlocks(cart)), criterion("evaluate/typical-1000-promotions/20-lines"));

// The fixed cost of an evaluation: the same cart against an empty bundle.
const empty = must(Engine.openUnverified(file("bundle-0.json")), "empty bundle");
row("evaluateJson(string) → string, 20 lines × 0 promotions (fixed cost)", measure(() => empty.evaluateJson(cartText)), criterion("json/typical-0-promotions_20-lines"));
row("evaluate(object) → object, 20 lines × 0 promotions (fixed cost)", measure(() => empty.evaluate(cart)), criterion("evaluate/typical-0-promotions_20-lines"));

// 2. Load: verify the signed 1,000-promotion bundle (every promotion approved) and compile it.
const options = { audience: "edge", now: NOW };
must(Engine.open(signed, root, options), "signed bundle").free();
row(
  "open signed bundle, 1,000 promotions (verify + compile)",
  measure(() => Engine.open(signed, root, options).value.free(), 5),
  criterion("verify/1000-promotions"),
);

// 3. Medusa's promotion module on the features both engines have: percentage and fixed amounts
// off lines or the order, targeted by SKU, category or brand, gated by a minimum subtotal. Only
// its pure per-cart functions run (rule checks, then line-item actions), without the database
// reads its service does first, so this flatters Medusa.
let medusa;
try {
  medusa = {
    ...require("./node_modules/@medusajs/promotion/dist/utils/compute-actions"),
    ...require("./node_modules/@medusajs/promotion/dist/utils/validations"),
  };
} catch (e) {
  console.error(`Medusa is not installed (${e.code}): scripts/bench-wasm.sh installs it`);
  process.exit(1);
}

function toMedusa(p) {
  const r = p.reward;
  const byOrder = (r.type === "percentOff" && r.on === "order") || r.per === "order";
  const rule = (attribute, values) =>
    values?.length ? [{ attribute, operator: "in", values: values.map((value) => ({ value })) }] : [];
  const items = p.items ?? {};
  return {
    id: p.id,
    code: p.id,
    is_tax_inclusive: false,
    rules: p.conditions?.minSubtotal
      ? [{ attribute: "subtotal", operator: "gte", values: [{ value: p.conditions.minSubtotal }] }]
      : [],
    application_method: {
      type: r.type === "percentOff" ? "percentage" : "fixed",
      target_type: byOrder ? "order" : "items",
      allocation: byOrder ? "across" : "each",
      value: Number(r.type === "percentOff" ? r.percent : r.amount),
      max_quantity: byOrder ? undefined : 1_000_000,
      target_rules: [
        ...rule("items.sku", items.skus),
        ...rule("items.category", items.categories),
        ...rule("items.brand", items.brands),
      ],
    },
  };
}
const medusaItems = cart.cart.lines.map((l) => {
  const subtotal = Number(l.unitPrice) * l.quantity;
  return {
    id: l.id,
    sku: l.sku,
    category: l.categories[0],
    brand: l.brand,
    quantity: l.quantity,
    subtotal,
    original_total: subtotal,
    is_discountable: true,
  };
});
const medusaContext = {
  currency_code: "usd",
  items: medusaItems,
  subtotal: medusaItems.reduce((a, i) => a + i.subtotal, 0),
};

/**
 * Promoseal and Medusa on the same promotions and cart, interleaved in one process: Promoseal's
 * `evaluateJson` (string in, string out; all why-not entries, then only those of the promotions
 * the cart touches) and `evaluate` (object in, object out, why-not entries for the promotions the
 * cart touches), Medusa's rule checks and line-item actions.
 */
function versusMedusa(promotions) {
  const ours = must(Engine.openUnverified(JSON.stringify({ ...bundleOf(payload), promotions })), "medusa bundle");
  const medusaPromotions = promotions.map(toMedusa);
  function medusaCompute() {
    const applied = new Map();
    const actions = [];
    for (const p of medusaPromotions) {
      if (!medusa.areRulesValidForContext(p.rules, medusaContext, "order")) continue;
      actions.push(...medusa.getComputedActionsForItems(p, medusaContext.items, applied));
    }
    return actions;
  }
  const applied = must(ours.evaluate(cart), "medusa evaluate").applied.length;
  const adjustments = medusaCompute().length;
  const [json, jsonCart, object, theirs] = interleaved([
    () => ours.evaluateJson(cartText),
    () => ours.evaluateJson(cartText, { notApplied: "cart" }),
    () => ours.evaluate(cart, { notApplied: "cart" }),
    medusaCompute,
  ]);
  ours.free();
  return { applied, adjustments, json, jsonCart, object, theirs };
}
const bundleOf = (bytes) => JSON.parse(bytes);

const bundle = bundleOf(payload);
const shared = bundle.promotions.filter(
  (p) => p.reward.type === "percentOff" || (p.reward.type === "amountOff" && p.reward.per !== "line"),
);
const combinable = bundleOf(file("bundle-combinable-1000.json")).promotions;
const workloads = [
  [`typical shop, the ${shared.length} promotions Medusa can express, Promoseal's stacking rules`, versusMedusa(shared)],
  [`Medusa's semantics: ${combinable.length} promotions, every one combining with every other`, versusMedusa(combinable)],
];

console.log(`workload: ${work}`);
console.log(`20-line cart, typical shop: ${bundle.promotions.length} promotions, ${evaluation.applied.length} applied`);
console.table(rows);
console.log(
  "\nAgainst @medusajs/promotion 2.21.2 (rule checks + line-item actions, no database reads), " +
    "the same 20-line cart, interleaved runs in one process:",
);
const ratio = (a, b) => `${(a.median / b.median).toFixed(1)}×`;
console.table(
  workloads.map(([what, w]) => ({
    workload: what,
    "Promoseal evaluateJson": us(w.json.median),
    "evaluateJson, cart": us(w.jsonCart.median),
    "evaluate, cart": us(w.object.median),
    Medusa: us(w.theirs.median),
    "Medusa / evaluateJson": ratio(w.theirs, w.json),
    "Medusa / evaluateJson, cart": ratio(w.theirs, w.jsonCart),
    "Medusa / evaluate": ratio(w.theirs, w.object),
    result: `${w.applied} applied; Medusa ${w.adjustments} adjustments`,
  })),
);
