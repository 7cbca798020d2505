// The storefront in headless Chromium (Debian's, through playwright-core) against the whole
// stack: the edge Worker in workerd and the ledger, serving examples/shop as signed by
// scripts/walkthrough.sh. Run by `cargo xtask test hosts`. Screenshots: target/web-demo/screenshots.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium } from "@promoseal/testing/chromium";
import { target } from "@promoseal/testing/paths";
import { startStack } from "@promoseal/testing/stack";

const screenshots = join(target, "web-demo", "screenshots");

let stack, browser;
const refusal = "This code cannot be used. Check it and try again.";

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  stack = await startStack();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh shopper (own session) on the storefront, ready to shop. */
async function shopper() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(stack.web.url);
  await page.waitForFunction(() => window.promoseal?.ready || window.promoseal?.errors.length);
  return { page, problems, close: () => context.close() };
}

const add = (page, sku) => page.click(`#products li[data-sku="${sku}"] button`);
const shot = (page, name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const totalsText = (page) => page.textContent("#totals");

test("the page verifies the storefront bundle and lists the catalog", async () => {
  const { page, problems, close } = await shopper();
  assert.match(await page.textContent("#bundle-status"), /Promotions verified: bundle demo-shop v1, 10 promotions/);
  assert.equal(await page.locator("#products li").count(), 9);
  assert.equal(await page.textContent('#products li[data-sku="POLE-2"] .badge'), "Out of stock");
  assert.equal(await page.isDisabled('#products li[data-sku="POLE-2"] button'), true);
  assert.equal(await page.textContent('#products li[data-sku="BTL-6"] .badge'), "Only 2 left");
  assert.equal(await page.textContent('#products li[data-sku="RUN-42"] .price'), "$120.00");
  await shot(page, "01-loaded");
  assert.deepEqual(problems, []);
  await close();
});

test("a hint names the gap; adding that much unlocks the discount, with no network call", async () => {
  const { page, problems, close } = await shopper();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await add(page, "CAP-1"); // 18.00: free shipping needs 75.00 of spend
  const hint = page.locator('#hints li[data-promotion="free-shipping-75"]');
  assert.equal(await hint.textContent(), "Spend $57.00 more to unlock Free shipping over $75 (save $6.99)");
  assert.doesNotMatch(await totalsText(page), /Free shipping/);
  await shot(page, "02-hint");
  // The hints are a live region: a redraw that says nothing new leaves them alone, so a screen
  // reader does not read them again.
  const drawn = await page.evaluate(() => {
    document.querySelector("#hints li").dataset.kept = "yes";
    document.querySelector("#membership").dispatchEvent(new Event("change"));
    return window.promoseal.previewMs.length;
  });
  await page.waitForFunction((n) => window.promoseal.previewMs.length > n, drawn);
  assert.equal(await hint.getAttribute("data-kept"), "yes");
  // A member gets one hint more; the shipping hint, which says the same, is not drawn again.
  const before = await hint.textContent();
  await page.selectOption("#membership", "member");
  await page.waitForSelector('body[data-membership="member"]');
  assert.equal(await hint.textContent(), before);
  assert.equal(await hint.getAttribute("data-kept"), "yes");
  await page.selectOption("#membership", "guest");
  await page.waitForSelector('body[data-membership="guest"]');
  // A membership is the shop's word (a claim from its backend); cart changes ask nothing.
  requests.length = 0;
  await add(page, "SOCK-9"); // 7.50 more: the gap follows
  assert.equal(await hint.textContent(), "Spend $49.50 more to unlock Free shipping over $75 (save $6.99)");
  await add(page, "JKT-1"); // 89.00 ≥ the gap
  assert.equal(await hint.count(), 0);
  assert.match(await totalsText(page), /Free shipping over \$75−\$6\.99/);
  // The tiered trail offer: $100 of trail gear for $10 off; the jacket is 89.00.
  assert.equal(await page.textContent('#hints li[data-promotion="trail-tiers"]'),
    "Spend $11.00 more to unlock Trail gear: $10 off $100, $25 off $200 (save $10.00)");
  await shot(page, "03-unlocked");
  assert.deepEqual(requests, [], "cart changes are priced in the page");
  assert.deepEqual(problems, []);
  await close();
});

test("every reward type shows on the cart, each line with its saving", async () => {
  const { page, close } = await shopper();
  await page.selectOption("#membership", "gold");
  await page.waitForSelector('body[data-membership="gold"]');
  for (const sku of ["TEE-5", "CAP-1", "CAP-1", "CAP-1", "SOCK-3", "SOCK-3", "BTL-6", "BTL-6"]) await add(page, sku);
  const totals = await totalsText(page);
  for (const name of ["Any tee for $15", "Caps: buy 2, get 1 free", "$2 off every pair of Loop merino socks",
    "Members: 5% off the order, gold members 10%", "Free shipping over $75"]) {
    assert.ok(totals.includes(name), `${name} in ${totals}`);
  }
  // Two bottles are below the volume tier: one more unlocks $12 each, but only 2 are in stock.
  const tee = await page.textContent('#cart-lines li[data-sku="TEE-5"]');
  // Members' 10 % comes first (application order), the set price takes the rest: $15.00.
  assert.equal(await page.textContent('#cart-lines li[data-sku="TEE-5"] .amount'), "$15.00");
  assert.match(tee, /Any tee for \$15: −\$6\.60/);
  assert.match(tee, /Members: 5% off the order, gold members 10%: −\$/, "the order discount, allocated to the line");
  assert.equal(await page.isDisabled('#cart-lines li[data-sku="BTL-6"] .plus'), true);
  // Both bottles are in the cart: the product's button cannot add a third either.
  assert.equal(await page.isDisabled('#products li[data-sku="BTL-6"] button'), true);
  assert.equal(await page.textContent('#cart-lines li[data-sku="BTL-6"] output'), "2");
  // A keyboard user's focus stays on the cart's button after the cart is drawn again.
  await page.focus('#cart-lines li[data-sku="CAP-1"] .minus');
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector('#cart-lines li[data-sku="CAP-1"] output')?.textContent === "2");
  assert.equal(await page.evaluate(() => document.activeElement?.matches('#cart-lines li[data-sku="CAP-1"] .minus')), true);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector('#cart-lines li[data-sku="CAP-1"] output')?.textContent === "1");
  await page.click('#cart-lines li[data-sku="CAP-1"] .plus');
  await page.click('#cart-lines li[data-sku="CAP-1"] .plus');
  await shot(page, "04-every-reward");
  await close();
});

test("a code: the edge checks it, the page previews its grant; an unknown code gets the uniform refusal", async () => {
  const { page, problems, close } = await shopper();
  await add(page, "RUN-42");
  await page.fill("#code", "nope-123");
  await page.click("#apply-code");
  await page.waitForFunction(() => !document.querySelector("#code-message").textContent.startsWith("Checking"));
  assert.equal(await page.textContent("#code-message"), refusal);
  await shot(page, "05-refused-code");

  await page.fill("#code", "vip-anna");
  await page.press("#code", "Enter");
  await page.waitForFunction(() => /applied/.test(document.querySelector("#code-message").textContent));
  assert.equal(await page.textContent("#code-message"), "Code VIP-ANNA applied: 30% off running shoes for VIPs.");
  assert.match(await totalsText(page), /30% off running shoes for VIPs−\$36\.00/);
  assert.match(await page.textContent("#codes"), /^VIP-ANNA: 30% off running shoes for VIPs/);
  await shot(page, "06-code-applied");
  assert.deepEqual(problems.filter((p) => !/422/.test(p)), []);
  await close();
});

test("checkout: the edge forwards it, the ledger holds the redemption, the page shows its receipt", async () => {
  const { page, close } = await shopper();
  await add(page, "RUN-42");
  await add(page, "SOCK-3");
  await page.fill("#code", stack.springCodes[0]);
  await page.click("#apply-code");
  await page.waitForFunction(() => /applied/.test(document.querySelector("#code-message").textContent));
  const total = await page.getAttribute("#totals", "data-total");
  const discount = await page.getAttribute("#totals", "data-discount");
  const cartShipping = /Shipping \([^)]*\)\$[\d.,]+/.exec(await totalsText(page));
  assert.ok(cartShipping, await totalsText(page));
  await page.click("#checkout");
  await page.waitForSelector("#receipt:not([hidden])");
  const id = await page.getAttribute("#receipt", "data-redemption");
  assert.match(await page.textContent("#receipt"), /Total charged/);
  // The receipt shows the shipping line the cart showed.
  assert.ok((await page.textContent("#receipt")).includes(cartShipping[0]), cartShipping[0]);
  assert.match(await page.textContent("#receipt"), /\$5 off your order−\$5\.00/);
  await shot(page, "07-receipt");

  const r = await fetch(`${stack.ledger.url}/v1/redemptions/${id}`);
  assert.equal(r.status, 200);
  const redemption = await r.json();
  assert.equal(redemption.state, "committed");
  assert.equal(redemption.total, total);
  assert.equal(redemption.discountTotal, discount);
  assert.ok(redemption.promotions.some((p) => p.promotionId === "spring-5"));

  // The single-use code is now used up: the edge refuses it like any other.
  await add(page, "RUN-42");
  await page.fill("#code", stack.springCodes[0]);
  await page.click("#apply-code");
  await page.waitForFunction(() => !document.querySelector("#code-message").textContent.startsWith("Checking"));
  assert.equal(await page.textContent("#code-message"), refusal);
  await close();
});

test("a reload while the order is on its way: the page sends the same order again after it, and the ledger holds it once", async () => {
  const { page, close } = await shopper();
  await page.selectOption("#membership", "member");
  await page.waitForSelector('body[data-membership="member"]');
  await add(page, "TEE-5");
  await add(page, "CAP-1");
  const total = await page.getAttribute("#totals", "data-total");
  // The first attempt reaches the ledger, but its answer never reaches the page: the page is
  // reloaded while the request hangs. The route stays in place until the receipt shows (taking
  // it away would let the hanging request through, racing the reload); after the reload it
  // passes the resent order on.
  let first;
  let delivered;
  const answered = new Promise((resolve) => (delivered = resolve));
  const sent = [];
  await page.route("**/v1/redeem", async (route) => {
    sent.push(route.request().headers()["idempotency-key"]);
    const r = await route.fetch();
    if (!first) {
      first = { status: r.status(), json: await r.json() };
      delivered();
      return;
    }
    await route.fulfill({ response: r });
  });
  await page.click("#checkout");
  await answered;
  assert.equal(first.status, 201, JSON.stringify(first.json));
  await page.reload();
  // After the reload: the cart is back, the order is sent again with its key, and the answer
  // is the first attempt's redemption, not a second order.
  await page
    .waitForFunction(
      () => !document.querySelector("#receipt").hidden || document.querySelector("#checkout-message").className === "error",
    )
    .catch(async (e) => {
      const seen = await page.evaluate(() => ({
        ready: window.promoseal.ready,
        message: document.querySelector("#checkout-message").textContent,
        saved: sessionStorage.getItem("promoseal.checkout"),
      }));
      throw new Error(`${e.message}: ${JSON.stringify(seen)}`);
    });
  await page.unroute("**/v1/redeem");
  assert.equal(await page.isVisible("#receipt"), true, await page.textContent("#checkout-message"));
  assert.equal(await page.getAttribute("#receipt", "data-redemption"), first.json.id);
  assert.equal(sent.length, 2);
  assert.equal(sent[1], sent[0], "the same idempotency key");
  // The page showed the order as it was sent: the member's price, not a guest's.
  assert.equal(await page.inputValue("#membership"), "member");
  assert.match(await page.textContent("#receipt"), new RegExp(`Total charged\\$${total.replace(".", "\\.")}`));
  const r = await fetch(`${stack.ledger.url}/v1/redemptions/${first.json.id}`);
  assert.equal((await r.json()).orderId, first.json.orderId);
  // The receipt cleared what the tab kept: another reload shows an empty cart.
  await page.reload();
  await page.waitForFunction(() => window.promoseal.ready);
  assert.equal(await page.isVisible("#cart-empty"), true);
  await close();
});

test("a network failure during checkout: the cart waits for that order, and the button sends it again, once", async () => {
  const { page, close } = await shopper();
  await add(page, "TEE-5");
  await page.route("**/v1/redeem", (route) => route.abort("internetdisconnected"));
  await page.click("#checkout");
  await page.waitForSelector("#checkout-message.error");
  assert.match(await page.textContent("#checkout-message"), /network failed/);
  // The order's fate is open: the cart, the membership and the codes are its own until it is
  // answered, and the button (with the focus) sends it again.
  assert.equal(await page.isDisabled('#cart-lines li[data-sku="TEE-5"] .plus'), true);
  assert.equal(await page.isDisabled('#products li[data-sku="CAP-1"] button'), true);
  assert.equal(await page.isDisabled("#membership"), true);
  assert.equal(await page.isDisabled("#code"), true);
  assert.equal(await page.isDisabled("#checkout"), false);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "checkout");
  // A 5xx is no answer either: the order may have been placed, so it is kept.
  await page.unroute("**/v1/redeem");
  await page.route("**/v1/redeem", (route) => route.fulfill({ status: 502, contentType: "text/html", body: "<h1>Bad gateway</h1>" }));
  await page.click("#checkout");
  await page.waitForFunction(() => /answered 502/.test(document.querySelector("#checkout-message").textContent));
  assert.equal(await page.isDisabled('#products li[data-sku="CAP-1"] button'), true);
  assert.equal(await page.isDisabled("#checkout"), false);
  await page.unroute("**/v1/redeem");
  const sent = [];
  page.on("request", (r) => r.url().endsWith("/v1/redeem") && sent.push(r.headers()["idempotency-key"]));
  await page.click("#checkout");
  await page.waitForSelector("#receipt:not([hidden])");
  const id = await page.getAttribute("#receipt", "data-redemption");
  const r = await (await fetch(`${stack.ledger.url}/v1/redemptions/${id}`)).json();
  assert.equal(r.state, "committed");
  assert.equal(sent.length, 1);
  // Answered: the cart is the shopper's again, and a new cart puts the receipt away.
  assert.equal(await page.isDisabled('#products li[data-sku="CAP-1"] button'), false);
  assert.equal(await page.isDisabled("#membership"), false);
  assert.equal(await page.isDisabled("#code"), false);
  await add(page, "CAP-1");
  assert.equal(await page.isHidden("#receipt"), true);
  await close();
});

test("membership is the shop's word: a forged or altered claim gets no member price at checkout", async () => {
  const { page, close } = await shopper();
  await page.selectOption("#membership", "gold");
  await page.waitForSelector('body[data-membership="gold"]');
  await add(page, "JKT-1");
  await add(page, "TEE-5");
  const members = /Members: 5% off the order, gold members 10%/;
  assert.match(await totalsText(page), members);
  // The shopper edits the checkout request on its way: the claim altered (a bronze member
  // turned gold), or dropped with the tier written in by hand. The edge and the ledger price
  // with the shop's word only, so the quote the page made does not hold.
  let tamper = null;
  await page.route("**/v1/redeem", async (route) => {
    const body = JSON.parse(route.request().postData());
    if (tamper) tamper(body);
    await route.continue({ postData: JSON.stringify(body) });
  });
  const tampers = [
    (b) => {
      const [key, payload, sig] = b.input.context.customerClaim.split(".");
      const claims = JSON.parse(Buffer.from(payload, "base64url"));
      claims.customer.id = "someone-else";
      b.input.context.customerClaim = [key, Buffer.from(JSON.stringify(claims)).toString("base64url"), sig].join(".");
    },
    (b) => {
      delete b.input.context.customerClaim;
      b.input.customer = { id: b.input.customer.id, tier: "gold", segments: ["members"] };
    },
  ];
  for (const t of tampers) {
    tamper = t;
    await page.click("#checkout");
    await page.waitForFunction(() => /Prices changed/.test(document.querySelector("#checkout-message").textContent));
    assert.equal(await page.isHidden("#receipt"), true);
  }
  // As the shop vouched for it: the gold member's price, confirmed by the ledger.
  tamper = null;
  const discount = await page.getAttribute("#totals", "data-discount");
  await page.click("#checkout");
  await page.waitForSelector("#receipt:not([hidden])");
  assert.match(await page.textContent("#receipt"), members);
  const id = await page.getAttribute("#receipt", "data-redemption");
  const redemption = await (await fetch(`${stack.ledger.url}/v1/redemptions/${id}`)).json();
  assert.equal(redemption.discountTotal, discount);
  assert.ok(redemption.promotions.some((p) => p.promotionId === "members-5"), JSON.stringify(redemption.promotions));
  await shot(page, "07-gold-member-receipt");
  await close();
});

test("a tampered storefront bundle is refused with a visible error", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route("**/v1/bundle/storefront", async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    const at = body.indexOf("30% off running shoes");
    body.write("90", at); // the discount, as an attacker would like it
    await route.fulfill({ response, body });
  });
  await page.goto(stack.web.url);
  await page.waitForFunction(() => window.promoseal?.errors.length > 0);
  assert.equal(await page.isVisible("#fatal"), true);
  assert.match(await page.textContent("#fatal"), /The promotions could not be verified, so no discounts are shown/);
  assert.match(await page.textContent("#fatal"), /badSignature/);
  assert.equal(await page.isDisabled("#checkout"), true);
  await shot(page, "08-tampered");
  await context.close();
});

test("usable by keyboard, and on a phone-sized screen", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(stack.web.url);
  await page.waitForFunction(() => window.promoseal?.ready);
  await page.focus('#products li[data-sku="SOCK-3"] button');
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab"); // to the next product's button
  await page.keyboard.press("Space");
  assert.equal(await page.locator("#cart-lines li").count(), 2);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
  // Every control a finger can reach is at least 24 × 24 CSS px (WCAG 2.5.8), the skip link
  // as it appears on focus included.
  const small = () =>
    page.evaluate(() =>
      [...document.querySelectorAll("button, select, input, .skip:focus")]
        .filter((el) => el.getClientRects().length > 0)
        .map((el) => [el.id || el.className || el.textContent.trim(), el.getBoundingClientRect()])
        .filter(([, r]) => r.width < 24 || r.height < 24)
        .map(([name, r]) => `${name} ${r.width.toFixed(0)}×${r.height.toFixed(0)}`),
    );
  assert.deepEqual(await small(), []);
  await page.focus(".skip");
  assert.deepEqual(await small(), []);
  await shot(page, "09-phone");
  await context.close();
});

test("the server: a malformed path is a 400 and the server goes on; writes are 405; the page cannot be framed", async () => {
  // `fetch` would normalize the path: send the raw bytes.
  const { request } = await import("node:http");
  const raw = (method, path) =>
    new Promise((resolve, reject) => {
      const u = new URL(stack.web.url);
      request({ host: u.hostname, port: u.port, method, path }, (r) => {
        r.resume();
        r.on("end", () => resolve(r));
      })
        .on("error", reject)
        .end();
    });
  assert.equal((await raw("GET", "/%E0%A4%A")).statusCode, 400);
  assert.equal((await raw("GET", "/%FF")).statusCode, 400);
  const post = await raw("POST", "/");
  assert.equal(post.statusCode, 405);
  assert.equal(post.headers.allow, "GET, HEAD");
  const page = await fetch(stack.web.url);
  assert.equal(page.status, 200, "still serving after the malformed requests");
  assert.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-frame-options"), "DENY");
});
