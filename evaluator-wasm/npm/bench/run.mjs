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
row("unlocks(object) → hints, 20 lines × 1,000 promotions", measure(() => engine.unlocks(cart)), criterion("evaluate/typical-1000-promotions/20-lines"));

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

const bundle = JSON.parse(payload);
const shared = bundle.promotions.filter(
  (p) => p.reward.type === "percentOff" || (p.reward.type === "amountOff" && p.reward.per !== "line"),
);
const sharedPayload = JSON.stringify({ ...bundle, promotions: shared });
const ours = must(Engine.openUnverified(sharedPayload), "shared bundle");

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
const medusaPromotions = shared.map(toMedusa);
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
function medusaCompute() {
  const applied = new Map();
  const actions = [];
  for (const p of medusaPromotions) {
    if (!medusa.areRulesValidForContext(p.rules, medusaContext, "order")) continue;
    actions.push(...medusa.getComputedActionsForItems(p, medusaContext.items, applied));
  }
  return actions;
}
const medusaActions = medusaCompute();
const oursApplied = must(ours.evaluate(cart), "shared evaluate").applied.length;
const medusaTime = measure(medusaCompute);
const oursTime = measure(() => ours.evaluate(cart, { notApplied: "cart" }));

console.log(`workload: ${work}`);
console.log(`20-line cart, typical shop: ${bundle.promotions.length} promotions, ${evaluation.applied.length} applied`);
console.table(rows);
console.log(
  `\nOverlapping features: ${shared.length} of the 1,000 promotions (percentage / amount off, ` +
    `by SKU, category or brand, minimum subtotal), the same 20-line cart.`,
);
console.table([
  { engine: 'Promoseal wasm: evaluate(object, {notApplied: "cart"})', median: us(oursTime.median), p99: us(oursTime.p99), result: `${oursApplied} promotions applied (best combination)` },
  { engine: "@medusajs/promotion 2.21.2: rules + line-item actions", median: us(medusaTime.median), p99: us(medusaTime.p99), result: `${medusaActions.length} adjustments` },
]);
console.log(`Medusa takes ${(medusaTime.median / oursTime.median).toFixed(1)}× Promoseal's time`);
