// The storefront: every price, discount and "spend more" hint is computed here, in the browser,
// by the Promoseal evaluator (WebAssembly) from the signed storefront bundle the edge serves,
// verified against the shop's trust root before it is read. A cart change costs no network
// call. Codes go to the edge (/v1/codes/check), which answers with grants; checkout goes to the
// edge (/v1/redeem), which forwards it to the ledger; the receipt shown is the ledger's.
import init, { Engine } from "/pkg/promoseal_evaluator.js";

const $ = (id) => document.getElementById(id);
const state = {
  config: null,
  catalog: null,
  engine: null,
  cart: new Map(), // sku → quantity
  codes: [], // { code, grants: [{promotionId, name, grant}] }
  subject: sessionStorage.getItem("promoseal.subject") ?? crypto.randomUUID(),
  order: null, // { id, key, body } from the moment an order is sent until it is answered
  sending: false, // an order's request is on its way
  checking: false, // a typed code is being checked at the edge
  last: null, // the last evaluation
  who: null, // { membership, customer, claim, at }: the shop's signed word for the shopper
};
sessionStorage.setItem("promoseal.subject", state.subject);
// The cart and an order being placed outlive a reload of the tab: an order sent before the
// reload is finished after it, with the same key, never placed twice. The membership and the
// codes are kept with it, so the page shows the order as it was sent.
const SAVED = "promoseal.checkout";
function remember() {
  sessionStorage.setItem(
    SAVED,
    JSON.stringify({ cart: [...state.cart], order: state.order, membership: $("membership").value, codes: state.codes }),
  );
}
// What tests and measurements read: the last preview's time, and whether the page is ready.
window.promoseal = { ready: false, previewMs: [], errors: [] };

let money = (amount) => amount;
const fromBase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const nowIso = () => new Date().toISOString();

function fatal(message) {
  const box = $("fatal");
  box.textContent = message;
  box.hidden = false;
  $("bundle-status").textContent = "Promotions unavailable";
  $("checkout").disabled = true;
  window.promoseal.errors.push(message);
}

async function start() {
  try {
    const [config, catalog] = await Promise.all(["/config.json", "/catalog.json"].map(async (u) => {
      const r = await fetch(u);
      if (!r.ok) throw new Error(`${u}: ${r.status}`);
      return r.json();
    }));
    state.config = config;
    state.catalog = catalog;
    const format = new Intl.NumberFormat(catalog.locale, { style: "currency", currency: catalog.currency });
    // Decimal strings format exactly: money never becomes a float here.
    money = (amount) => format.format(amount);
    $("shop-name").textContent = catalog.shop;
    renderProducts();
    restore();
  } catch (e) {
    fatal(`The shop could not be loaded (${e.message}). Reload the page to try again.`);
    return;
  }
  try {
    await init();
    const r = await fetch(`${state.config.edgeUrl}/v1/bundle/storefront`);
    if (!r.ok) throw new Error(`the promotion service answered ${r.status}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    const opened = Engine.open(bytes, fromBase64(state.config.trustRoot), { audience: "storefront" });
    if (!opened.ok) {
      fatal("The promotions could not be verified, so no discounts are shown. " +
        `The shop has been told. (${opened.error.reason ?? opened.error.code}: ${opened.error.message})`);
      return;
    }
    state.engine = opened.value;
    $("bundle-status").textContent =
      `Promotions verified: bundle ${state.engine.bundleId} v${state.engine.version}, ` +
      `${state.engine.promotionCount} promotions`;
  } catch (e) {
    fatal(`The promotions could not be loaded: ${e.message}. Prices are shown without discounts.`);
    return;
  }
  await changeMembership();
  window.promoseal.ready = true;
  if (state.order) {
    $("checkout-message").textContent = "Finishing the order placed before the page was reloaded…";
    await checkout();
  }
}

/** What `remember` kept: the cart (items the catalog still has, within stock) and the order. */
function restore() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SAVED) ?? "null");
  } catch {}
  for (const [sku, q] of Array.isArray(saved?.cart) ? saved.cart : []) {
    const p = product(sku);
    if (p && Number.isInteger(q) && q > 0) state.cart.set(sku, Math.min(q, 99, p.stock));
  }
  if (saved?.order?.key && saved.order.body) {
    // The order's membership and codes, as it was sent (the page prices what it shows).
    state.order = saved.order;
    const membership = $("membership");
    if ([...membership.options].some((o) => o.value === saved.membership)) membership.value = saved.membership;
    if (Array.isArray(saved.codes)) state.codes = saved.codes.filter((c) => typeof c?.code === "string" && Array.isArray(c.grants));
  }
}

function renderProducts() {
  const list = $("products");
  const filter = $("category-filter");
  const categories = [...new Set(state.catalog.products.flatMap((p) => p.categories))].sort();
  for (const c of categories) filter.add(new Option(c, c));
  filter.addEventListener("change", () => {
    for (const li of list.children) li.hidden = !!filter.value && !li.dataset.categories.split(" ").includes(filter.value);
  });
  for (const p of state.catalog.products) {
    const li = document.createElement("li");
    li.className = "product";
    li.dataset.sku = p.sku;
    li.dataset.categories = p.categories.join(" ");
    const stock = p.stock === 0 ? ["out", "Out of stock"] : p.stock <= 3 ? ["low", `Only ${p.stock} left`] : ["", "In stock"];
    li.innerHTML = `<div class="swatch" aria-hidden="true"></div><h3></h3><p class="meta"></p>
      <p class="price"></p><span class="badge ${stock[0]}"></span><button type="button"></button>`;
    li.querySelector(".swatch").style.background = p.color;
    li.querySelector("h3").textContent = p.name;
    li.querySelector(".meta").textContent = `${p.brand} · ${p.categories.join(", ")}`;
    li.querySelector(".price").textContent = money(p.price);
    li.querySelector(".badge").textContent = stock[1];
    const add = li.querySelector("button");
    add.textContent = p.stock === 0 ? "Sold out" : "Add to cart";
    add.disabled = p.stock === 0;
    add.setAttribute("aria-label", `Add ${p.name} to the cart`);
    add.addEventListener("click", () => change(p.sku, +1));
    list.append(li);
  }
}

function product(sku) {
  return state.catalog.products.find((p) => p.sku === sku);
}

function change(sku, delta) {
  // While an order's fate is open, the cart is the order's: it cannot change under it.
  if (state.order) return;
  // A new cart: the last order's receipt is done with.
  $("receipt").hidden = true;
  const q = (state.cart.get(sku) ?? 0) + delta;
  if (q <= 0) state.cart.delete(sku);
  // Never more than the shop has (nor than 99).
  else state.cart.set(sku, Math.min(q, 99, product(sku).stock));
  remember();
  render();
}

/**
 * Who the shopper is, as the shop's backend vouches for it: the customer and a claim signed by
 * the shop's key, renewed when the membership changes or the claim is ten minutes old. The edge
 * and the ledger price with the claim's customer only; without it a "gold" shopper is nobody.
 */
async function vouched() {
  const membership = $("membership").value;
  if (state.who?.membership === membership && Date.now() - state.who.at < 600_000) return state.who;
  const q = new URLSearchParams({ membership, subject: state.subject });
  const r = await fetch(`/customer?${q}`);
  if (!r.ok) throw new Error(`the shop answered ${r.status}`);
  const { customer, claim } = await r.json();
  state.who = { membership, customer, claim, at: Date.now() };
  document.body.dataset.membership = membership;
  return state.who;
}

async function changeMembership() {
  try {
    await vouched();
  } catch (e) {
    $("checkout-message").className = "error";
    $("checkout-message").textContent = `Your membership could not be confirmed (${e.message}).`;
  }
  render();
}

/** The evaluation input for the cart as it stands. */
function input({ withGrants }) {
  const catalog = state.catalog;
  return {
    cart: {
      currency: catalog.currency,
      lines: [...state.cart].map(([sku, quantity]) => {
        const p = product(sku);
        return {
          id: sku, sku, brand: p.brand, categories: p.categories, unitPrice: p.price, quantity,
          taxRate: catalog.taxRate, stockAvailable: p.stock, unitCost: p.cost,
        };
      }),
    },
    customer: state.who?.customer ?? { id: `shopper-${state.subject}` },
    context: {
      now: nowIso(),
      channel: "web",
      ...(state.who ? { customerClaim: state.who.claim } : {}),
      // Nothing to ship, no shipping charge.
      ...(state.cart.size > 0 ? { shipping: { ...catalog.shipping, taxRate: catalog.taxRate } } : {}),
      ...(withGrants
        ? { grants: state.codes.flatMap((c) => c.grants.map((g) => g.grant)), subject: state.subject }
        : { codes: state.codes.map((c) => c.code) }),
    },
  };
}

function row(list, term, value, cls) {
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = term;
  dd.textContent = value;
  if (cls) dd.className = dt.className = cls;
  list.append(dt, dd);
}

/** Prices the cart in the browser and redraws it: the preview. */
function render() {
  if (!state.engine) return;
  const t0 = performance.now();
  const result = state.engine.evaluate(input({ withGrants: true }), { notApplied: "none" });
  if (!result.ok) {
    $("checkout-message").textContent = `The cart could not be priced: ${result.error.message}`;
    return;
  }
  const e = (state.last = result.value);
  const names = new Map(e.applied.map((a) => [a.promotionId, a.name]));

  const lines = $("cart-lines");
  // The cart is drawn again: a keyboard user's focus goes back to the same button after.
  const focused = document.activeElement?.closest?.("#cart-lines li[data-sku] button");
  const refocus = focused && { sku: focused.closest("li").dataset.sku, plus: focused.classList.contains("plus") };
  lines.replaceChildren();
  $("cart-empty").hidden = e.lines.length > 0;
  for (const l of e.lines) {
    const p = product(l.id);
    const li = document.createElement("li");
    li.className = "line";
    li.dataset.sku = l.id;
    li.innerHTML = `<span class="name"></span><span class="amount"></span>
      <span class="qty"><button type="button" class="quiet minus"></button><output></output>
      <button type="button" class="quiet plus"></button></span><span class="unit meta"></span>`;
    li.querySelector(".name").textContent = p.name;
    li.querySelector(".amount").textContent = money(l.total);
    li.querySelector("output").textContent = l.quantity;
    li.querySelector(".unit").textContent = `${money(l.unitPrice)} each`;
    const minus = li.querySelector(".minus");
    minus.textContent = "−";
    minus.setAttribute("aria-label", `One ${p.name} less`);
    minus.addEventListener("click", () => change(l.id, -1));
    const plus = li.querySelector(".plus");
    plus.textContent = "+";
    plus.setAttribute("aria-label", `One more ${p.name}`);
    plus.disabled = l.quantity >= p.stock || !!state.order;
    minus.disabled = !!state.order;
    plus.addEventListener("click", () => change(l.id, +1));
    for (const a of l.allocations ?? []) {
      const s = document.createElement("p");
      s.className = "saving";
      s.textContent = `${names.get(a.promotionId) ?? a.promotionId}: −${money(a.amount)}`;
      li.append(s);
    }
    if (l.quantity > p.stock) {
      const s = document.createElement("p");
      s.className = "oos";
      s.textContent = `Only ${p.stock} in stock: no discount on this line`;
      li.append(s);
    }
    lines.append(li);
  }
  if (refocus) {
    const same = lines.querySelector(`li[data-sku="${CSS.escape(refocus.sku)}"] .${refocus.plus ? "plus" : "minus"}`);
    (same && !same.disabled ? same : $("cart-h"))?.focus();
  }
  // An item all of whose stock is in the cart cannot be added again.
  for (const p of state.catalog.products) {
    const add = document.querySelector(`#products li[data-sku="${CSS.escape(p.sku)}"] button`);
    if (add) add.disabled = p.stock === 0 || (state.cart.get(p.sku) ?? 0) >= p.stock || !!state.order;
  }

  // The hints are a live region: only a hint whose words change is drawn again (the others
  // stay the same elements), so a screen reader reads what is new, not every hint again.
  const hints = $("hints");
  const said = (e.unlocks ?? []).map((u) => {
    const gap = u.missingSpend ? `Spend ${money(u.missingSpend)} more` : `Add ${u.missingQuantity} more`;
    return [u.promotionId, `${gap} to unlock ${u.name} (save ${money(u.wouldGive)})`];
  });
  if (JSON.stringify(said) !== hints.dataset.said) {
    hints.dataset.said = JSON.stringify(said);
    const shown = new Map([...hints.children].map((li) => [`${li.dataset.promotion} ${li.textContent}`, li]));
    const next = said.map(([promotion, text]) => {
      const same = shown.get(`${promotion} ${text}`);
      if (same) return same;
      const li = document.createElement("li");
      li.dataset.promotion = promotion;
      li.textContent = text;
      return li;
    });
    for (const li of [...hints.children]) if (!next.includes(li)) li.remove();
    next.forEach((li, i) => {
      if (hints.children[i] !== li) hints.insertBefore(li, hints.children[i] ?? null);
    });
  }

  const totals = $("totals");
  totals.replaceChildren();
  row(totals, "Subtotal", money(e.subtotal));
  for (const a of e.applied) row(totals, a.name, `−${money(a.amount)}`, "discount");
  if (e.shipping) row(totals, `Shipping (${e.shipping.method})`, money(e.shipping.total));
  row(totals, "Tax", money(e.taxTotal));
  row(totals, "Total", money(e.total), "grand");
  totals.dataset.total = e.total;
  totals.dataset.discount = e.discountTotal;

  renderCodes();
  // An order sent but not answered (the network failed, or the shop has not confirmed it yet)
  // keeps the cart, the membership and the codes as they were, and the button sends it again.
  $("checkout").disabled = state.sending || (!state.order && e.lines.length === 0);
  $("membership").disabled = !!state.order;
  $("code").disabled = !!state.order;
  $("apply-code").disabled = !!state.order || state.checking;
  const ms = performance.now() - t0;
  window.promoseal.previewMs.push(ms);
  document.body.dataset.previewMs = ms.toFixed(3);
}

function renderCodes() {
  const list = $("codes");
  list.replaceChildren();
  const applied = new Set((state.last?.applied ?? []).map((a) => a.promotionId));
  for (const c of state.codes) {
    const li = document.createElement("li");
    const active = c.grants.some((g) => applied.has(g.promotionId));
    li.textContent = `${c.code}: ${c.grants.map((g) => g.name).join(", ")}${active ? "" : " (not on this cart yet)"}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "quiet";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove code ${c.code}`);
    // The codes of an order being placed are the order's.
    remove.disabled = !!state.order;
    remove.addEventListener("click", () => {
      state.codes = state.codes.filter((x) => x !== c);
      render();
    });
    li.append(remove);
    list.append(li);
  }
}

async function post(path, body, headers = {}) {
  const r = await fetch(`${state.config.edgeUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  let json = null;
  try {
    json = await r.json();
  } catch {}
  return { status: r.status, json, retryAfter: r.headers.get("Retry-After") };
}

async function applyCode(event) {
  event.preventDefault();
  const field = $("code");
  const message = $("code-message");
  const code = field.value.trim().toUpperCase();
  message.className = "";
  if (!code) {
    message.textContent = "Type a code first.";
    return;
  }
  if (state.order) {
    message.textContent = "Finish the order first: its codes cannot change until it is answered.";
    return;
  }
  if (state.codes.some((c) => c.code === code)) {
    message.textContent = `${code} is already applied.`;
    return;
  }
  state.checking = true;
  $("apply-code").disabled = true;
  message.textContent = "Checking the code…";
  try {
    await vouched();
    const { status, json, retryAfter } = await post("/v1/codes/check", {
      code, subject: state.subject, input: input({ withGrants: false }),
    });
    if (status === 200) {
      state.codes.push({ code, grants: json.grants });
      field.value = "";
      message.textContent = `Code ${code} applied: ${json.grants.map((g) => g.name).join(", ")}.`;
      render();
    } else if (status === 429) {
      message.className = "error";
      message.textContent = `Too many code attempts. Try again in ${retryAfter ?? "a few"} seconds.`;
    } else {
      message.className = "error";
      message.textContent = json?.error?.message ?? "The code could not be checked. Try again.";
    }
  } catch {
    message.className = "error";
    message.textContent = "The code could not be checked: the network failed. Try again.";
  } finally {
    state.checking = false;
    $("apply-code").disabled = !!state.order;
  }
}

async function checkout() {
  const message = $("checkout-message");
  // An order already sent (a network failure, or a reload while it ran) is sent again as it
  // was, with its key: the ledger answers the first attempt's answer, or places it once.
  if (!state.order) {
    if (!state.last || state.last.lines.length === 0) return;
    try {
      // A fresh claim, and the preview priced with it: what the ledger will compute.
      await vouched();
      render();
    } catch {}
    const e = state.last;
    const id = `web-${Date.now().toString(36)}-${state.subject.slice(0, 8)}`;
    // The ledger prices the same cart with the typed codes at the preview's time, and refuses
    // the order if its answer differs from what the shopper saw.
    const priced = input({ withGrants: false });
    priced.context.now = e.evaluatedAt;
    const body = {
      orderId: id,
      bundle: { id: e.bundleId, version: e.bundleVersion },
      input: priced,
      quote: { discountTotal: e.discountTotal, total: e.total },
    };
    // One order id, idempotency key and body per order, kept for this tab before it is sent.
    state.order = { id, key: crypto.randomUUID(), body };
    remember();
  }
  const { body, key } = state.order;
  message.className = "";
  message.textContent = "Placing the order…";
  state.sending = true;
  render();
  let answered = null;
  try {
    // 202: the edge could not reach the ledger and queued the order; it is delivered later,
    // and the same request with the same key reads its outcome.
    for (let attempt = 0; attempt < 30; attempt++) {
      const { status, json } = await post("/v1/redeem", body, { "Idempotency-Key": key });
      if (status !== 202) {
        answered = { status, json };
        break;
      }
      message.textContent = "Order received; confirming the discounts with the shop…";
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (!answered) {
      message.textContent =
        "The shop has the order but has not confirmed it yet. Press the button to ask again; it will not be placed twice.";
    }
  } catch {
    message.className = "error";
    message.textContent = "The order could not be sent: the network failed. Press the button again; it will not be placed twice.";
  }
  state.sending = false;
  if (answered?.status === 201) return showReceipt(answered.json);
  if (answered && (answered.status >= 500 || answered.status === 408)) {
    // The shop failed to answer: the order may have been placed. It stays this tab's, and the
    // button asks again under its key.
    message.className = "error";
    message.textContent = `The shop could not confirm the order (it answered ${answered.status}). Press the button again; it will not be placed twice.`;
  } else if (answered) {
    // Refused: the order is over, and the cart is the shopper's again.
    message.className = "error";
    message.textContent = plainRefusal(answered.status, answered.json);
    state.order = null;
    remember();
  }
  render();
  // The button was disabled while the order ran, which dropped a keyboard user's focus.
  $("checkout").focus();
}

/** Why the ledger refused a discount (`limitReached`'s `detail.limit`), in the shopper's words. */
const LIMIT_WORDS = {
  totalUses: "it has been used as often as it may be",
  perCode: "this code has been used as often as it may be",
  singleUseCode: "this code has been used already",
  perCustomer: "you have used it as often as you may",
  perDay: "it has been used as often as it may be today",
  budget: "its budget is spent",
};

function plainRefusal(status, json) {
  const code = json?.error?.code;
  if (code === "amountMismatch") return "Prices changed while you were shopping. Review the cart and place the order again.";
  if (code === "limitReached") {
    const id = json.error.detail?.promotionId;
    const name = (state.last?.applied ?? []).find((a) => a.promotionId === id)?.name ?? "A discount in your cart";
    const why = LIMIT_WORDS[json.error.detail?.limit] ?? "it has been used as often as it may be";
    return `${name} is no longer available: ${why}. Remove it and place the order again.`;
  }
  if (code === "quoteExpired") return "The cart was priced too long ago. Review it and place the order again.";
  if (status === 429) return "Too many attempts. Wait a moment and try again.";
  return `The order was not placed: ${json?.error?.message ?? `the shop answered ${status}`}.`;
}

function showReceipt(redemption) {
  const names = new Map((state.last?.applied ?? []).map((a) => [a.promotionId, a.name]));
  $("checkout-message").textContent = "";
  const box = $("receipt");
  $("receipt-id").textContent = `Order ${redemption.orderId}, confirmed by the ledger as ${redemption.id}.`;
  const list = $("receipt-lines");
  list.replaceChildren();
  row(list, "Subtotal", money(redemption.subtotal));
  for (const p of redemption.promotions) row(list, names.get(p.promotionId) ?? p.promotionId, `−${money(p.amount)}`, "discount");
  // The ledger's own evaluation (its receipt) says what shipping cost, as the cart showed it.
  const shipping = redemption.receipt?.shipping;
  if (shipping) row(list, `Shipping (${shipping.method})`, money(shipping.total));
  row(list, "Tax", money(redemption.taxTotal));
  row(list, "Total charged", money(redemption.total), "grand");
  box.dataset.redemption = redemption.id;
  $("code-message").textContent = "";
  box.hidden = false;
  $("receipt-h").focus();
  state.cart.clear();
  state.codes = [];
  state.order = null;
  remember();
  render();
}

$("code-form").addEventListener("submit", applyCode);
$("checkout").addEventListener("click", checkout);
$("membership").addEventListener("change", changeMembership);
start();
