// How a storefront uses the package; `tsc -p evaluator-wasm/npm/example` type-checks it against the
// generated declarations (scripts/test-wasm.sh).
import init, {
  Engine,
  type Evaluation,
  type EvaluationInput,
  type Failure,
  type Outcome,
  type Unlock,
} from "../dist/web/promoseal_evaluator.js";

const money = (amount: string, currency: string): string =>
  new Intl.NumberFormat("en-US", { style: "currency", currency }).format(Number(amount));

function hint(u: Unlock, currency: string): string {
  const gap = u.missingSpend
    ? `Spend ${money(u.missingSpend, currency)} more`
    : `Add ${u.missingQuantity ?? 0} more`;
  return `${gap} to save ${money(u.wouldGive, currency)} with ${u.name}`;
}

function explain(f: Failure): string {
  return f.reason ? `${f.message} (${f.reason})` : f.message;
}

export async function preview(
  bundleUrl: string,
  rootUrl: string,
  input: EvaluationInput,
): Promise<string[]> {
  await init();
  const [bundle, root] = await Promise.all(
    [bundleUrl, rootUrl].map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())),
  );
  const stored = localStorage.getItem("promoseal.accepted");
  const opened: Outcome<Engine> = Engine.open(bundle, root, {
    audience: "storefront",
    highestAccepted: stored ? JSON.parse(stored) : undefined,
  });
  if (!opened.ok) return [`Prices cannot be previewed: ${explain(opened.error)}`];
  const engine = opened.value;
  const accepted = engine.accepted;
  if (accepted) localStorage.setItem("promoseal.accepted", JSON.stringify(accepted));

  // A preview needs no reasons for promotions that target nothing in the cart.
  const result: Outcome<Evaluation> = engine.evaluate(input, { notApplied: "cart" });
  if (!result.ok) return [explain(result.error)];
  const e = result.value;
  return [
    `Total ${money(e.total, e.currency)} (you save ${money(e.discountTotal, e.currency)})`,
    ...e.applied.map((a) => `${a.name}: −${money(a.amount, e.currency)}`),
    ...e.unlocks.map((u) => hint(u, e.currency)),
  ];
}
