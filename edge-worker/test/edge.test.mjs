// The edge Worker, built, in workerd (wrangler dev --local), against the real ledger binary.
// Run by `cargo xtask test hosts` after `cargo xtask gen` wrote the fixtures (edge-worker/tests/fixtures.rs).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { join } from "node:path";
import { freePort, tempDir } from "@promoseal/testing/process";
import { kvPut, startLedger, startWorker } from "@promoseal/testing/stack";
import { fixtureLedger, fixtures, workerVars } from "./fixtures.mjs";

const fx = fixtures();
const b64 = (s) => Buffer.from(s, "base64");
let ledger, worker, persist, ledgerPort, ledgerDb;

const vars = () => workerVars(fx, ledger?.url ?? `http://127.0.0.1:${ledgerPort}`, {
  BUNDLE_REFRESH_SECONDS: "1",
  REPLAY_BASE_SECONDS: "1",
  REPLAY_MAX_SECONDS: "2",
  LEDGER_ATTEMPTS: "2",
  LEDGER_BACKOFF_MS: "50",
  LEDGER_TIMEOUT_MS: "3000",
  CODE_ATTEMPTS_PER_IP: "5/60",
  CODE_ATTEMPTS_PER_CODE: "10/60",
  CODE_CHECK_MIN_MS: "20",
});

before(async () => {
  persist = tempDir("edge");
  ledgerPort = await freePort();
  ledgerDb = join(tempDir("ledger"), "ledger.db");
  ledger = await startLedger({ port: ledgerPort, db: ledgerDb, ...fixtureLedger });
  const entries = {
    "edge/shop": b64(fx.shop["edge-v1"]),
    "storefront/shop": b64(fx.shop["storefront-v1"]),
  };
  for (const c of fx.corpus) entries[`edge/${c.bundle}`] = b64(c.envelope);
  kvPut(persist, entries);
  worker = await startWorker({ port: await freePort(), persist, vars: vars() });
});

after(async () => {
  await worker?.stop();
  await ledger?.stop();
});

let ipSeq = 0;
const freshIp = () => `198.51.${(++ipSeq >> 8) & 255}.${ipSeq & 255}`;

async function post(path, body, headers = {}) {
  const res = await fetch(worker.url + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": freshIp(), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
const json = (r) => JSON.parse(r.text);
const nowIso = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z");

function cart(codes = [], extra = {}) {
  return {
    cart: {
      currency: "USD",
      lines: [
        { id: "1", sku: "RUN-1", categories: ["shoes"], unitPrice: "100.00", quantity: 1 },
        { id: "2", sku: "SOCK-1", categories: ["socks"], unitPrice: "8.00", quantity: 2 },
      ],
    },
    customer: { id: "cus_1", email: "ann@example.com", ...(extra.customer ?? {}) },
    context: { now: nowIso(), codes, ...(extra.context ?? {}) },
  };
}

test("healthz names the verified bundles and the root", async () => {
  const r = await fetch(`${worker.url}/healthz`);
  assert.equal(r.status, 200);
  const h = await r.json();
  assert.equal(h.status, "ok");
  assert.equal(h.rootDigest, fx.rootDigest);
  assert.deepEqual(h.bundles.map((b) => [b.key, b.version]), [["edge/shop", 1], ["storefront/shop", 1]]);
  assert.equal(h.codeChecks, true);
});

test("the shared corpus through /v1/evaluate answers the native bytes", async () => {
  let same = 0;
  for (const c of fx.corpus) {
    const r = await post(`/v1/evaluate?bundle=${c.bundle}`, c.input);
    const want = c.result;
    if (want.ok) {
      assert.equal(r.status, 200, `${c.case}: ${r.text}`);
      assert.equal(r.text, want.json, c.case);
    } else if (want.refused) {
      assert.equal(r.status, 503, c.case);
      assert.equal(json(r).error.code, "bundleUnavailable", c.case);
      assert.ok(json(r).error.message.includes(want.refused), `${c.case}: ${r.text}`);
    } else {
      assert.ok([400, 422].includes(r.status), `${c.case}: ${r.status}`);
      assert.deepEqual(json(r).error, { code: want.code, message: want.message }, c.case);
    }
    same++;
  }
  assert.equal(same, fx.corpus.length);
  assert.ok(same > 100);
});

test("bad requests: malformed JSON, wrong shapes, size, routes, methods", async () => {
  let r = await post("/v1/evaluate", "{\"cart\": ");
  assert.equal(r.status, 400);
  assert.equal(json(r).error.code, "invalidInput");
  assert.match(json(r).error.message, /EOF|line 1/);
  r = await post("/v1/evaluate", { cart: { currency: "USD", lines: [{ id: "1", unitPrice: 1.5, quantity: 1 }] }, context: { now: nowIso() } });
  assert.equal(r.status, 400);
  assert.match(json(r).error.message, /cart\.lines\[0\]/);
  r = await post("/v1/codes/check", { code: "X", extra: true });
  assert.equal(r.status, 400);
  assert.match(json(r).error.message, /unknown field `extra`/);
  r = await post("/v1/evaluate", "x".repeat(300 * 1024));
  assert.equal(r.status, 413);
  assert.equal(json(r).error.code, "bodyTooLarge");
  r = await post("/v1/nothing", {});
  assert.equal(r.status, 404);
  const g = await fetch(`${worker.url}/v1/evaluate`);
  assert.equal(g.status, 405);
  assert.equal(g.headers.get("allow"), "POST, OPTIONS");
  assert.equal((await g.json()).error.code, "methodNotAllowed");
  const d = await fetch(`${worker.url}/v1/bundle/storefront`, { method: "DELETE" });
  assert.equal(d.status, 405);
  assert.equal(d.headers.get("allow"), "GET, HEAD, OPTIONS");
  r = await post("/v1/redeem", { orderId: "o" });
  assert.equal(r.status, 400);
  assert.equal(json(r).error.code, "idempotencyKeyRequired");
  // One Idempotency-Key rule at the edge and the ledger (promoseal-wire): 1 to 255 visible
  // ASCII characters.
  r = await post("/v1/redeem", { orderId: "o" }, { "Idempotency-Key": "k".repeat(256) });
  assert.equal(r.status, 400);
  assert.equal(json(r).error.code, "invalidIdempotencyKey");
  r = await post("/v1/redeem", { orderId: "o" }, { "Idempotency-Key": "k".repeat(255) });
  assert.equal(r.status, 400);
  assert.equal(json(r).error.code, "invalidRequest", "the key passes; the body does not");
  r = await post("/v1/evaluate?bundle=../x", cart());
  assert.equal(r.status, 400);
});

test("?notApplied=cart leaves out the promotions that target nothing in the cart; none lists none", async () => {
  const unclocked = (v) => ({ ...v, evaluatedAt: "", notApplied: [] });
  // Socks only: the fixture's shoe promotions target nothing in this cart.
  const socks = () => {
    const c = cart();
    c.cart.lines = c.cart.lines.filter((l) => l.sku === "SOCK-1");
    return c;
  };
  const all = json(await post("/v1/evaluate", socks()));
  const cartOnly = await post("/v1/evaluate?notApplied=cart", socks());
  assert.equal(cartOnly.status, 200, cartOnly.text);
  const kept = new Set(json(cartOnly).notApplied.map((n) => JSON.stringify(n)));
  const left = all.notApplied.filter((n) => !kept.has(JSON.stringify(n)));
  assert.ok(left.length > 0, "the fixture bundle has promotions this cart does not touch");
  assert.ok(left.every((n) => n.reason.code === "noEligibleItems"), JSON.stringify(left));
  assert.equal(kept.size + left.length, all.notApplied.length, "a subsequence of the full list");
  assert.deepEqual(unclocked(json(cartOnly)), unclocked(all), "the rest of the answer is the same");
  const none = json(await post("/v1/evaluate?notApplied=none", socks()));
  assert.deepEqual(none.notApplied, []);
  const bad = await post("/v1/evaluate?notApplied=some", socks());
  assert.equal(bad.status, 400);
  assert.equal(json(bad).error.code, "invalidRequest");
  assert.match(json(bad).error.message, /notApplied must be all, cart or none/);
});

test("CORS: the storefront's origin is named, others are not", async () => {
  const pre = await fetch(`${worker.url}/v1/codes/check`, {
    method: "OPTIONS",
    headers: { Origin: "http://shop.test", "Access-Control-Request-Method": "POST" },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "http://shop.test");
  assert.match(pre.headers.get("access-control-allow-headers"), /Idempotency-Key/);
  const ok = await post("/v1/evaluate", cart(), { Origin: "http://shop.test" });
  assert.equal(ok.headers.get("access-control-allow-origin"), "http://shop.test");
  const other = await post("/v1/evaluate", cart(), { Origin: "http://evil.test" });
  assert.equal(other.status, 200);
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

test("the storefront bundle: signed bytes, ETag, cache headers, 304", async () => {
  const r = await fetch(`${worker.url}/v1/bundle/storefront`);
  assert.equal(r.status, 200);
  const body = Buffer.from(await r.arrayBuffer());
  assert.deepEqual(body, b64(fx.shop["storefront-v1"]));
  assert.ok(!body.toString().includes("hashes"), "no code material");
  const etag = r.headers.get("etag");
  assert.match(etag, /^"[0-9a-f]{64}"$/);
  assert.match(r.headers.get("cache-control"), /max-age=60/);
  const again = await fetch(`${worker.url}/v1/bundle/storefront`, { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
});

const refusal = '{"error":{"code":"codeNotAccepted","message":"This code cannot be used. Check it and try again."}}';

test("code check → grant → the storefront's wasm evaluator previews it, as the edge prices it", async () => {
  const r = await post("/v1/codes/check", { code: " welcome10 ", subject: "session-1" });
  assert.equal(r.status, 200, r.text);
  const answer = json(r);
  assert.equal(answer.bundleVersion, 1);
  assert.deepEqual(answer.grants.map((g) => g.promotionId), ["welcome"]);
  assert.doesNotMatch(r.text, /WELCOME10/i, "the code is not echoed");

  // The browser's evaluator: the public bundle from the edge, verified with the root, plus the grant.
  const require = createRequire(import.meta.url);
  const wasm = require("@promoseal/evaluator");
  const storefront = Buffer.from(await (await fetch(`${worker.url}/v1/bundle/storefront`)).arrayBuffer());
  const opened = wasm.Engine.open(storefront, b64(fx.root), { audience: "storefront", now: nowIso() });
  assert.equal(opened.ok, true, JSON.stringify(opened.error));
  const bundle = opened.value;
  const run = (input) => {
    const r = bundle.evaluateJson(JSON.stringify(input));
    assert.equal(r.ok, true, JSON.stringify(r.error));
    return JSON.parse(r.value);
  };
  const preview = cart([], { context: { grants: [answer.grants[0].grant], subject: "session-1" } });
  const browser = run(preview);
  assert.ok(browser.applied.some((a) => a.promotionId === "welcome"), JSON.stringify(browser.applied));

  // Another subject's preview does not get it.
  const other = cart([], { context: { grants: [answer.grants[0].grant], subject: "session-2" } });
  assert.ok(!run(other).applied.some((a) => a.promotionId === "welcome"));

  // The edge, with the code itself, gives the same discount.
  const edge = json(await post("/v1/evaluate", cart(["WELCOME10"])));
  assert.equal(edge.discountTotal, browser.discountTotal);
  assert.equal(edge.total, browser.total);
});

test("self-verifying generated codes are checked with the campaign secret", async () => {
  const r = await post("/v1/codes/check", { code: fx.spring[0] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(json(r).grants.map((g) => g.promotionId), ["spring"]);
  // One character off in the tag: refused like any unknown code.
  const bad = fx.spring[0].slice(0, -1) + (fx.spring[0].endsWith("A") ? "B" : "A");
  const x = await post("/v1/codes/check", { code: bad });
  assert.equal(x.status, 422);
  assert.equal(x.text, refusal);
});

test("unknown, ended, ineligible and used-up codes get one uniform refusal", async () => {
  const tries = [
    { code: "NOPE-1234" }, // unknown
    { code: "OLD15" }, // its promotion ended
    { code: "GOLD25", input: cart([], { customer: { tier: "silver" } }) }, // not for this shopper
  ];
  for (const t of tries) {
    const r = await post("/v1/codes/check", t);
    assert.equal(r.status, 422, JSON.stringify(t));
    assert.equal(r.text, refusal, JSON.stringify(t));
  }
  const gold = await post("/v1/codes/check", { code: "GOLD25", input: cart([], { context: { customerClaim: fx.claims.gold } }) });
  assert.equal(gold.status, 200, gold.text);

  // A single-use code, redeemed: the edge learns from the ledger's answer.
  assert.equal((await post("/v1/codes/check", { code: "ONCE-0001" })).status, 200);
  const redeemed = await post("/v1/redeem", { orderId: "order-once", input: cart(["ONCE-0001"]) },
    { "Idempotency-Key": "once-1" });
  assert.equal(redeemed.status, 201, redeemed.text);
  const used = await post("/v1/codes/check", { code: "ONCE-0001" });
  assert.equal(used.status, 422);
  assert.equal(used.text, refusal);
});

test("attempt limits per client IP and per code", async () => {
  const ip = "203.0.113.7";
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    statuses.push((await post("/v1/codes/check", { code: `GUESS-${i}` }, { "CF-Connecting-IP": ip })).status);
  }
  assert.deepEqual(statuses, [422, 422, 422, 422, 422, 429]);
  const limited = await post("/v1/codes/check", { code: "WELCOME10" }, { "CF-Connecting-IP": ip });
  assert.equal(limited.status, 429, "a valid code is limited too: no oracle");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal(json(limited).error.code, "tooManyAttempts");
  // Codes in /v1/evaluate count as attempts.
  assert.equal((await post("/v1/evaluate", cart(["WELCOME10"]), { "CF-Connecting-IP": ip })).status, 429);
  // Another client is not affected.
  assert.equal((await post("/v1/codes/check", { code: "WELCOME10" })).status, 200);

  // One code tried from many addresses.
  const code = "SPREAD-9999";
  const perCode = [];
  for (let i = 0; i < 11; i++) perCode.push((await post("/v1/codes/check", { code })).status);
  assert.deepEqual(perCode, [...Array(10).fill(422), 429]);
});

test("a public code checked by many is never refused for a shopper (the per-code bucket only counts failures)", async () => {
  // More checks of a valid code than its bucket holds, from a few addresses.
  const statuses = [];
  for (let i = 0; i < 12; i++) {
    const ip = `192.0.2.${1 + (i % 3)}`;
    statuses.push((await post("/v1/codes/check", { code: "WELCOME10" }, { "CF-Connecting-IP": ip })).status);
  }
  assert.deepEqual(statuses, Array(12).fill(200));
  // A shopper elsewhere still gets it, in a preview, a code check and at checkout.
  assert.equal((await post("/v1/codes/check", { code: "welcome10" })).status, 200);
  const priced = json(await post("/v1/evaluate", cart(["WELCOME10"])));
  assert.ok(priced.applied.some((a) => a.promotionId === "welcome"));
  const redeemed = await post("/v1/redeem", { orderId: "order-public", input: cart(["WELCOME10"]) },
    { "Idempotency-Key": "k-public" });
  assert.equal(redeemed.status, 201, redeemed.text);
});

test("a client's bucket is its IPv6 /64, so fresh addresses in it do not buy guesses", async () => {
  const statuses = [];
  for (let i = 1; i <= 6; i++) {
    const ip = `2001:db8:77:1::${i.toString(16)}`;
    statuses.push((await post("/v1/codes/check", { code: `V6GUESS-${i}` }, { "CF-Connecting-IP": ip })).status);
  }
  assert.deepEqual(statuses, [422, 422, 422, 422, 422, 429]);
  const other = await post("/v1/codes/check", { code: "V6GUESS-7" }, { "CF-Connecting-IP": "2001:db8:77:2::1" });
  assert.equal(other.status, 422, "another /64 is another client");
});

test("more codes than a client's bucket holds is 400 tooManyCodes, not a 429 that can never pass", async () => {
  const codes = ["A1", "A2", "A3", "A4", "A5", "A6"];
  for (const [path, body, headers] of [
    ["/v1/evaluate", cart(codes), {}],
    ["/v1/redeem", { orderId: "order-many", input: cart(codes) }, { "Idempotency-Key": "k-many" }],
  ]) {
    const r = await post(path, body, headers);
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(json(r).error.code, "tooManyCodes", path);
    assert.equal(r.headers.get("retry-after"), null, path);
  }
  // As many as it holds is fine.
  assert.equal((await post("/v1/evaluate", cart(codes.slice(0, 5)))).status, 200);
});

test("an unknown ?bundle= is 404 unknownBundle; a bundle under another id's key is refused", async () => {
  for (const r of [
    await post("/v1/evaluate?bundle=nope", cart()),
    await post("/v1/codes/check?bundle=nope", { code: "WELCOME10" }),
    await fetch(`${worker.url}/v1/bundle/storefront?bundle=nope`).then(async (r) => ({ status: r.status, text: await r.text() })),
  ]) {
    assert.equal(r.status, 404, r.text);
    assert.equal(json(r).error.code, "unknownBundle", r.text);
  }
  // The shop's genuine bundle filed under the key of another id.
  kvPut(persist, { "edge/misfiled": b64(fx.shop["edge-v1"]) });
  const r = await post("/v1/evaluate?bundle=misfiled", cart());
  assert.equal(r.status, 503, r.text);
  assert.equal(json(r).error.code, "bundleUnavailable");
  assert.match(json(r).error.message, /misfiled/);
});

test("a POST body that is not declared JSON is 415 on every POST route (no cross-site simple requests)", async () => {
  const routes = [
    ["/v1/evaluate", cart(), {}],
    ["/v1/codes/check", { code: "WELCOME10" }, {}],
    ["/v1/redeem", { orderId: "order-415", input: cart() }, { "Idempotency-Key": "k-415" }],
  ];
  for (const [path, body, headers] of routes) {
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await post(path, body, { ...headers, "Content-Type": type });
      assert.equal(r.status, 415, `${path} ${type}: ${r.text}`);
      assert.equal(json(r).error.code, "unsupportedMediaType");
    }
    // No Content-Type at all.
    const bare = await fetch(worker.url + path, {
      method: "POST", headers: { "CF-Connecting-IP": freshIp(), ...headers },
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
    assert.equal(bare.status, 415, path);
  }
  // Parameters are allowed.
  const ok = await post("/v1/evaluate", cart(), { "Content-Type": "application/json; charset=utf-8" });
  assert.equal(ok.status, 200, ok.text);
  // The ledger's redemption was never reached.
  assert.deepEqual(await ledgerEvents("order-415"), []);
});

test("If-None-Match matches the storefront ETag by weak comparison, and *", async () => {
  const etag = (await fetch(`${worker.url}/v1/bundle/storefront`)).headers.get("etag");
  for (const value of [`W/${etag}`, "*", `"nope", W/${etag}`, `"nope",${etag}`]) {
    const r = await fetch(`${worker.url}/v1/bundle/storefront`, { headers: { "If-None-Match": value } });
    assert.equal(r.status, 304, value);
    assert.equal(r.headers.get("etag"), etag);
  }
  for (const value of ['"nope"', `W/"nope"`, etag.slice(1, -1)]) {
    const r = await fetch(`${worker.url}/v1/bundle/storefront`, { headers: { "If-None-Match": value } });
    assert.equal(r.status, 200, value);
  }
});

test("the code check and the edge's checkout pricing take the customer from the shop's claim, not the browser", async () => {
  const withCustomer = (customer, context = {}) => cart([], { customer, context });
  // A browser that says gold, with no claim.
  let r = await post("/v1/codes/check", { code: "GOLD25", input: withCustomer({ tier: "gold" }) });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.text, refusal);
  // A silver claim whose payload was changed to gold: the signature no longer holds.
  const [kid, payload, sig] = fx.claims.silver.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url"));
  claims.customer.tier = "gold";
  const altered = [kid, Buffer.from(JSON.stringify(claims)).toString("base64url"), sig].join(".");
  r = await post("/v1/codes/check", { code: "GOLD25", input: withCustomer({ tier: "gold" }, { customerClaim: altered }) });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.text, refusal);
  // A genuine silver claim: not for this shopper either.
  r = await post("/v1/codes/check", { code: "GOLD25", input: withCustomer({ tier: "gold" }, { customerClaim: fx.claims.silver }) });
  assert.equal(r.status, 422, r.text);
  // The shop's gold claim, whatever the browser says.
  r = await post("/v1/codes/check", { code: "GOLD25", input: withCustomer({ tier: "bronze" }, { customerClaim: fx.claims.gold }) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(json(r).grants.map((g) => g.promotionId), ["gold"]);

  // Checkout with a forged tier: the edge's own quote has no gold price; with the claim it has.
  const forged = await post("/v1/redeem", { orderId: "order-forged-gold", input: cart(["GOLD25"], { customer: { tier: "gold" } }) },
    { "Idempotency-Key": "k-forged-gold" });
  assert.equal(forged.status, 201, forged.text);
  assert.ok(!json(forged).promotions.some((p) => p.promotionId === "gold"), forged.text);
  const vouched = await post("/v1/redeem", { orderId: "order-claimed-gold", input: cart(["GOLD25"], { context: { customerClaim: fx.claims.gold } }) },
    { "Idempotency-Key": "k-claimed-gold" });
  assert.equal(vouched.status, 201, vouched.text);
  assert.ok(json(vouched).promotions.some((p) => p.promotionId === "gold"), vouched.text);
});

/** Spellings a shopper may type for a generated code: O for 0, I or L for 1, lower case. */
function aliases(code) {
  const [prefix, body] = [code.slice(0, 4), code.slice(4)];
  assert.match(body, /0/);
  assert.match(body, /1/);
  return [
    prefix + body.replaceAll("0", "O"),
    prefix + body.replaceAll("1", "I"),
    prefix + body.replaceAll("1", "L"),
    code.toLowerCase(),
    (prefix + body.replaceAll("0", "o").replaceAll("1", "l")).toLowerCase(),
  ];
}

test("a redeemed single-use generated code is used up in every spelling (O for 0, I/L for 1, lower case)", async () => {
  const code = fx.vip[1];
  const spellings = aliases(code);
  for (const s of spellings) {
    const r = await post("/v1/codes/check", { code: s });
    assert.equal(r.status, 200, `${s}: ${r.text}`);
    assert.deepEqual(json(r).grants.map((g) => g.promotionId), ["vip"]);
  }
  const first = await post("/v1/redeem", { orderId: "order-vip-1", input: cart([code]) }, { "Idempotency-Key": "k-vip-1" });
  assert.equal(first.status, 201, first.text);
  assert.ok(json(first).promotions.some((p) => p.promotionId === "vip"), first.text);
  for (const s of [code, ...spellings]) {
    const r = await post("/v1/codes/check", { code: s });
    assert.equal(r.status, 422, `${s}: ${r.text}`);
    assert.equal(r.text, refusal, s);
  }
  const priced = json(await post("/v1/evaluate", cart([spellings[0]])));
  assert.ok(!priced.applied.some((a) => a.promotionId === "vip"), JSON.stringify(priced.applied));
  // The ledger, the authority, refuses it too in another spelling.
  const again = await post("/v1/redeem", { orderId: "order-vip-2", input: cart([spellings[2]]) }, { "Idempotency-Key": "k-vip-2" });
  assert.equal(again.status, 409, again.text);
  assert.equal(json(again).error.code, "limitReached");
});

test("/v1/evaluate is no code oracle: ended, used-up and ineligible codes price as unknown ones, private promotions unnamed", async () => {
  const twoDaysAgo = new Date((fx.now - 2 * 86_400) * 1000).toISOString().replace(".000Z", "Z");
  const at = (codes, extra = {}) => cart(codes, { ...extra, context: { now: twoDaysAgo, ...(extra.context ?? {}) } });
  // An ended promotion's code, previewed at a time it ran: the same bytes as an unknown code.
  const unknown = await post("/v1/evaluate", at(["NOPE-1234"]));
  assert.equal(unknown.status, 200, unknown.text);
  const ended = await post("/v1/evaluate", at(["OLD15"]));
  assert.equal(ended.text, unknown.text);
  assert.ok(!json(ended).applied.some((a) => a.promotionId === "ended"));

  // A single-use code the ledger redeemed: no longer applied in a preview.
  const code = "ONCE-0002";
  assert.ok(json(await post("/v1/evaluate", cart([code]))).applied.some((a) => a.promotionId === "once"));
  const redeemed = await post("/v1/redeem", { orderId: "order-once-2", input: cart([code]) }, { "Idempotency-Key": "k-once-2" });
  assert.equal(redeemed.status, 201, redeemed.text);
  // Both priced at the edge's clock: the same bytes but for the second each was priced in.
  const unclocked = (r) => r.text.replace(/"evaluatedAt":"[^"]*"/, '"evaluatedAt":""');
  const used = await post("/v1/evaluate", cart([code]));
  assert.equal(unclocked(used), unclocked(await post("/v1/evaluate", cart(["NOPE-1234"]))));

  // A gold-only code for a browser that says gold: as unknown; with the shop's claim: applied.
  const forged = await post("/v1/evaluate", cart(["GOLD25"], { customer: { tier: "gold" } }));
  assert.ok(!json(forged).applied.some((a) => a.promotionId === "gold"), forged.text);
  const vouched = await post("/v1/evaluate", cart(["GOLD25"], { customer: { tier: "gold" }, context: { customerClaim: fx.claims.gold } }));
  assert.ok(json(vouched).applied.some((a) => a.promotionId === "gold"), vouched.text);

  // Private promotions are named only when their code applied them.
  const plain = await post("/v1/evaluate", cart());
  assert.doesNotMatch(plain.text, /staff/);
  assert.match(plain.text, /welcome/, "public promotions still say why not");
  const staff = json(await post("/v1/evaluate", cart(["staff50"])));
  assert.ok(staff.applied.some((a) => a.promotionId === "staff"));
});

test("failed checks of a code by shoppers it is not for cannot deny it to the shopper it is for", async () => {
  // Browsers that say gold, from many addresses, until the code's bucket of failures is empty.
  const statuses = [];
  for (let i = 0; i < 15 && !statuses.includes(429); i++) {
    statuses.push((await post("/v1/codes/check", { code: "GOLD25", input: cart([], { customer: { tier: "gold" } }) })).status);
  }
  assert.ok(statuses.includes(429), JSON.stringify(statuses));
  assert.ok(statuses.slice(0, -1).every((s) => s === 422), JSON.stringify(statuses));
  // The gold customer, vouched for by the shop: accepted, and checks out.
  const r = await post("/v1/codes/check", { code: "GOLD25", input: cart([], { context: { customerClaim: fx.claims.gold } }) });
  assert.equal(r.status, 200, r.text);
  const paid = await post("/v1/redeem", { orderId: "order-gold-after-flood", input: cart(["GOLD25"], { context: { customerClaim: fx.claims.gold } }) },
    { "Idempotency-Key": "k-gold-after-flood" });
  assert.equal(paid.status, 201, paid.text);
  assert.ok(json(paid).promotions.some((p) => p.promotionId === "gold"), paid.text);
});

async function ledgerEvents(orderId) {
  const r = await fetch(`${ledger.url}/v1/events?limit=1000`);
  const body = await r.json();
  return body.events.filter((e) => e.orderId === orderId);
}

test("redeem: forwarded with its idempotency key; a repeat is the ledger's first answer", async () => {
  const body = { orderId: "order-1", input: cart(["WELCOME10"]) };
  const first = await post("/v1/redeem", body, { "Idempotency-Key": "k-order-1" });
  assert.equal(first.status, 201, first.text);
  const red = json(first);
  assert.equal(red.orderId, "order-1");
  assert.ok(red.promotions.some((p) => p.promotionId === "welcome"));
  const again = await post("/v1/redeem", body, { "Idempotency-Key": "k-order-1" });
  assert.equal(again.status, 201);
  assert.equal(again.text, first.text);
  assert.equal(again.headers.get("idempotency-replayed"), "true");
  // A quote that disagrees with the ledger's pricing is refused by the ledger, relayed as is.
  const wrong = await post("/v1/redeem", { ...body, orderId: "order-2", bundle: { id: "shop", version: 1 },
    quote: { discountTotal: "50.00", total: "66.00" } }, { "Idempotency-Key": "k-order-2" });
  assert.equal(wrong.status, 409, wrong.text);
  assert.equal(json(wrong).error.code, "amountMismatch");
});

test("ledger down → dead letter → replay → redeemed exactly once", async () => {
  await ledger.stop();
  const body = { orderId: "order-dl", input: cart() };
  const queued = await post("/v1/redeem", body, { "Idempotency-Key": "k-dl" });
  assert.equal(queued.status, 202, queued.text);
  assert.equal(json(queued).status, "queued");
  // The client tries again while the ledger is still down: still one letter.
  assert.equal((await post("/v1/redeem", body, { "Idempotency-Key": "k-dl" })).status, 202);
  const admin = { Authorization: "Bearer test-admin-token" };
  let letters = await (await fetch(`${worker.url}/v1/admin/dead-letters`, { headers: admin })).json();
  assert.deepEqual(letters.letters.map((l) => l.idempotencyKey), ["k-dl"]);
  assert.equal((await fetch(`${worker.url}/v1/admin/dead-letters`)).status, 401);

  ledger = await startLedger({ port: ledgerPort, db: ledgerDb, ...fixtureLedger });
  // The outbox's alarm delivers it (backoff 1 s, at most 2 s).
  const deadline = Date.now() + 20_000;
  do {
    await new Promise((r) => setTimeout(r, 500));
    letters = await (await fetch(`${worker.url}/v1/admin/dead-letters`, { headers: admin })).json();
  } while (letters.letters.length > 0 && Date.now() < deadline);
  assert.deepEqual(letters.letters, []);
  const record = letters.delivered.find((d) => d.key === "k-dl");
  assert.equal(record.status, 201);

  // A forced replay finds nothing; the client's repeat reads the ledger's first answer.
  const replay = await (await fetch(`${worker.url}/v1/admin/dead-letters/replay`, { method: "POST", headers: admin })).json();
  assert.deepEqual(replay, { delivered: 0, remaining: 0 });
  const repeat = await post("/v1/redeem", body, { "Idempotency-Key": "k-dl" });
  assert.equal(repeat.status, 201, repeat.text);
  assert.equal(repeat.headers.get("idempotency-replayed"), "true");
  const events = await ledgerEvents("order-dl");
  assert.deepEqual(events.map((e) => [e.op, e.outcome]), [["redeem", "accepted"]], JSON.stringify(events));
});

test("a ledger answering 503 (busy database) is retried, the redemption queued, then delivered once", async () => {
  await ledger.stop();
  // In its place, a ledger whose database is busy: 503 with Retry-After.
  const seen = [];
  const busy = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ url: req.url, key: req.headers["idempotency-key"], body });
      res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "2" });
      res.end('{"error":{"code":"unavailable","message":"the ledger is busy; retry with the same idempotency key"}}');
    });
  });
  await new Promise((ok) => busy.listen(ledgerPort, "127.0.0.1", ok));
  let closed = false;
  const closeBusy = () => (closed ? undefined : ((closed = true), new Promise((ok) => busy.close(ok))));
  try {
    const body = { orderId: "order-503", input: cart(["WELCOME10"]) };
    const queued = await post("/v1/redeem", body, { "Idempotency-Key": "k-503" });
    assert.equal(queued.status, 202, queued.text);
    assert.equal(json(queued).status, "queued");
    // LEDGER_ATTEMPTS live attempts, the same body and key each time.
    const live = seen.filter((s) => s.key === "k-503");
    assert.equal(live.length, 2, JSON.stringify(seen));
    assert.equal(new Set(live.map((s) => s.body)).size, 1);
    assert.equal(live[0].url, "/v1/redemptions");
    const admin = { Authorization: "Bearer test-admin-token" };
    const letters = await (await fetch(`${worker.url}/v1/admin/dead-letters`, { headers: admin })).json();
    const letter = letters.letters.find((l) => l.idempotencyKey === "k-503");
    assert.ok(letter, JSON.stringify(letters));
    assert.match(letter.lastError, /503/);
    // Not sooner than the ledger's Retry-After (2 s; the backoff alone would be 1 s).
    assert.ok(letter.nextAttemptMs - letter.firstFailedMs >= 2000, JSON.stringify(letter));
    await closeBusy();

    ledger = await startLedger({ port: ledgerPort, db: ledgerDb, ...fixtureLedger });
    const deadline = Date.now() + 20_000;
    let now;
    do {
      await new Promise((r) => setTimeout(r, 500));
      now = await (await fetch(`${worker.url}/v1/admin/dead-letters`, { headers: admin })).json();
    } while (now.letters.some((l) => l.idempotencyKey === "k-503") && Date.now() < deadline);
    assert.equal(now.delivered.find((d) => d.key === "k-503")?.status, 201, JSON.stringify(now));
    const events = await ledgerEvents("order-503");
    assert.deepEqual(events.map((e) => [e.op, e.outcome]), [["redeem", "accepted"]], JSON.stringify(events));
  } finally {
    await closeBusy();
  }
});

test("a newer version is taken up; a rollback is refused, in the isolate and after a restart", async () => {
  kvPut(persist, { "edge/shop": b64(fx.shop["edge-v2"]) });
  const wait = () => new Promise((r) => setTimeout(r, 1200));
  await wait();
  assert.equal(json(await post("/v1/evaluate", cart())).bundleVersion, 2);

  kvPut(persist, { "edge/shop": b64(fx.shop["edge-v1"]) });
  await wait();
  assert.equal(json(await post("/v1/evaluate", cart())).bundleVersion, 2, "the isolate keeps version 2");
  const h = await (await fetch(`${worker.url}/healthz`)).json();
  assert.match(h.bundles[0].refusedUpdate, /^rollback/);

  // A new isolate finds version 1 in KV and the guard's record of version 2.
  const port = Number(new URL(worker.url).port);
  await worker.stop();
  worker = await startWorker({ port, persist, vars: vars() });
  const r = await post("/v1/evaluate", cart());
  assert.equal(r.status, 503, r.text);
  assert.equal(json(r).error.code, "bundleUnavailable");
  assert.match(json(r).error.message, /rollback/);
});
