// The promotions console in headless Chromium (Debian's, through playwright-core) against the
// whole stack: the ledger, the edge Worker in workerd, the storefront and the console, on a copy
// of what scripts/walkthrough.sh signed into PROMOSEAL_WORK (by default target/web-test, which
// stays as it was: the console writes drafts, approvals and releases into its project folder).
// Each person is a browser context of their own, with their own key enrolled in its IndexedDB.
// The tests run in order and build on one another (issue 16, "How it is checked"):
//   1. the walk: a new marketing user creates the example promotion from a template, timed;
//   2. the side panel is `promoseal lint`, the cart simulator is the ledger;
//   3. marketing and finance approve with in-browser signatures, a release reaches the edge and
//      the storefront, a checkout is confirmed by the ledger;
//   4. refusals: beyond a limit, forged signatures, a viewer, an edit after approval, a stale
//      form, bad uploads;
//   5. page weight; 6. security headers, cookies, CSRF and CSP; 7. the audit log.
// Figures: target/console/{walk,publish,weight}.json. Screenshots: target/console/screenshots.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium } from "@promoseal/testing/chromium";
import { target } from "@promoseal/testing/paths";
import { sleep, tempDir } from "@promoseal/testing/process";

const out = join(target, "console");
const screenshots = join(out, "screenshots");
const signed = process.env.PROMOSEAL_WORK ?? join(target, "web-test");
const work = tempDir("console-flow");
cpSync(signed, work, { recursive: true });
// The stack module reads PROMOSEAL_WORK when it loads.
process.env.PROMOSEAL_WORK = work;
const { startStack } = await import("@promoseal/testing/stack");

const shop = join(work, "shop");
const promoseal = join(target, "release", "promoseal");
const TIME_ZONE = "America/New_York"; // examples/shop/promoseal.toml
const BUNDLE = "demo-shop";

let stack, browser, url;
/** Everything the tests hand on to the next ones. */
const S = {};
/** CSP violations seen in any person's pages (the deliberate one of test 6 is kept apart). */
const violations = [];

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  stack = await startStack({}, { console: true });
  url = stack.console.url;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

const words = (s) => (s ?? "").replace(/\s+/g, " ").trim();
/** What a person reads in an element: its rendered text, spaces collapsed. */
const text = async (page, selector) => words(await page.innerText(selector));
const shot = (page, name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
const writeFigures = (name, value) => writeFileSync(join(out, name), `${JSON.stringify(value, null, 2)}\n`);

/** Waits until `selector`'s text contains `wanted` (a string or a RegExp source). */
async function waitForText(page, selector, wanted) {
  const pattern = wanted instanceof RegExp ? wanted.source : wanted.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await page.waitForFunction(
    ([s, p]) => new RegExp(p).test((document.querySelector(s)?.textContent ?? "").replace(/\s+/g, " ")),
    [selector, pattern],
  );
}

/**
 * A browser context of its own for one person, its pages watched: uncaught errors, console
 * errors other than the 4xx answers the tests provoke, and CSP violations.
 */
async function newContext(who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });
  const problems = [];
  const seen = [];
  const watch = (page) => {
    // Leaving an editor with typed terms asks first (beforeunload): these tests move on.
    page.on("dialog", (d) => (d.type() === "beforeunload" ? d.accept() : d.dismiss()));
    page.on("pageerror", (e) => problems.push(`${who}: ${e.message}`));
    page.on("console", (m) => {
      const t = m.text();
      if (/Content Security Policy|CSP violation/.test(t)) seen.push(`${who} ${page.url()}: ${t}`);
      else if (m.type() === "error" && !/the server responded with a status of 4\d\d/.test(t)) problems.push(`${who}: ${t}`);
    });
  };
  context.on("page", watch);
  return { context, problems, violations: seen };
}

/** A person signed in with their key file, enrolled in their own browser context. */
async function person(keyId) {
  const { context, problems, violations: seen } = await newContext(keyId);
  const page = await context.newPage();
  await page.goto(`${url}/sign-in`);
  await page.getByLabel("Key file", { exact: true }).setInputFiles(join(work, "keys", `${keyId}.key`));
  await page.getByRole("button", { name: "Enroll key" }).click();
  await page.getByRole("button", { name: `Sign in as ${keyId}` }).click();
  await page.waitForURL(`${url}/`);
  await waitForText(page, "#signed-in-as", `Signed in as ${keyId}`);
  const p = { keyId, context, page, problems, violations: seen };
  p.close = async () => {
    violations.push(...seen);
    await context.close();
  };
  return p;
}

/** The console's API from a person's page (their session cookie, the CSRF token, the origin). */
async function call(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const me = await (await fetch("/api/session")).json();
      const res = await fetch(`/api${path}`, {
        method,
        headers: { "content-type": "application/json", "x-csrf-token": me.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const t = await res.text();
      let json = null;
      try {
        json = t ? JSON.parse(t) : null;
      } catch {
        json = t;
      }
      return { status: res.status, body: json };
    },
    [method, path, body],
  );
}

async function detail(page, id) {
  const r = await call(page, "GET", `/promotions/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Signs `digest` (hex) in the approval domain with the key this person's browser holds. */
async function approvalSignature(page, keyId, digest) {
  return page.evaluate(
    async ([keyId, digest]) => {
      const { APPROVAL, hexToBytes, sign } = await import("/assets/keys.js");
      return sign(keyId, APPROVAL, hexToBytes(digest));
    },
    [keyId, digest],
  );
}

/** The wall clock of an instant in the shop's time zone. */
function wallClock(instant) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "long",
  }).formatToParts(instant);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}`, seconds: p.second, weekday: p.weekday };
}

/** This coming Sunday in the shop's time zone (today, on a Sunday). */
function comingSunday() {
  const today = wallClock(new Date()).date;
  const d = new Date(`${today}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + ((7 - d.getUTCDay()) % 7));
  return d.toISOString().slice(0, 10);
}

/** Waits for the editor's review to find nothing wrong (lint findings do not block a save). */
async function waitReadyToSave(page) {
  await page.waitForFunction(
    () => document.querySelector("#problem-count")?.textContent === "No problems: ready to save." && !document.querySelector("#save").disabled,
  );
}

/** A promotion from a template, filled in the editor (labels → values), saved as a draft. */
async function createPromotion(page, { template = "percent-category", name, fields }) {
  await page.goto(`${url}/promotions/new?template=${template}`);
  await page.waitForSelector("#editor:not([hidden])");
  await page.getByLabel("Name", { exact: true }).fill(name);
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await waitReadyToSave(page);
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.waitForURL(/\/promotions\/[^/]+$/);
  await page.waitForSelector('#state [data-state="draft"]');
  return decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
}

async function openPromotion(page, id, state) {
  await page.goto(`${url}/promotions/${encodeURIComponent(id)}`);
  await page.waitForSelector(state ? `#state [data-state="${state}"]` : "#state [data-state]");
  await page.waitForSelector("#rv-approvers > *");
}

async function submit(page, id) {
  await openPromotion(page, id, "draft");
  await page.getByRole("button", { name: "Submit for review" }).click();
  await page.waitForSelector('#state [data-state="review"]');
}

/**
 * Approves in the page: the digest the page computed (wasm) is the server's, then the person's
 * key in this browser signs it; waits for the status line or the refusal shown.
 */
async function approve(page, id) {
  await openPromotion(page, id, "review");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.waitForSelector("#approve-digest");
  assert.equal(await page.textContent("#approve-digest"), (await detail(page, id)).digest, "what is signed is the server's digest");
  await page.getByRole("button", { name: "Sign and approve" }).click();
  await page.waitForFunction(
    () => /^Approved as /.test(document.querySelector("#status")?.textContent ?? "") || !document.querySelector("#alert").hidden,
  );
}

/** The storefront bundle the edge serves now: its ETag and payload. */
async function edgeStorefront() {
  const res = await fetch(`${stack.worker.url}/v1/bundle/storefront?bundle=${BUNDLE}`);
  assert.equal(res.status, 200);
  const body = await res.text();
  return { etag: res.headers.get("etag"), payload: JSON.parse(body.split("\n")[1]) };
}

/**
 * Publishes from the Releases page and measures until the edge serves the new version (its
 * ETag changes): `{version, clickToEdgeMs, clickToAnswerMs, served}`.
 */
async function publish(page) {
  await page.goto(`${url}/releases`);
  const button = page.getByRole("button", { name: "Publish", exact: true });
  await button.waitFor();
  // It says what will change, and asks first.
  await button.click();
  const confirm = page.getByRole("button", { name: "Publish now" });
  await confirm.waitFor();
  const question = await page.getAttribute(".confirm", "aria-label");
  assert.match(question, /^Publish version \d+\? (New or changed terms go live: .+|No approved change is waiting: .+)\.$/);
  const before = await edgeStorefront();
  const clicked = Date.now();
  await confirm.click();
  let served = before;
  while (served.etag === before.etag) {
    assert.ok(Date.now() - clicked < 60_000, "the edge serves the new version within a minute");
    await sleep(20);
    served = await edgeStorefront();
  }
  const clickToEdgeMs = Date.now() - clicked;
  await page.waitForSelector("#publish-outcome");
  const clickToAnswerMs = Date.now() - clicked;
  const outcome = await text(page, "#publish-outcome");
  assert.match(outcome, /^Version \d+: \d+ promotions\. Pushed to ledger and edge\.$/);
  const version = Number(/^Version (\d+)/.exec(outcome)[1]);
  assert.equal(served.payload.version, version, "the edge serves the version the console published");
  return { version, clickToEdgeMs, clickToAnswerMs, served, outcome, question };
}

// ---------------------------------------------------------------------------------------------
// 1. The walk

test("the walk: a new marketing user creates the example promotion from a template in under two minutes", async () => {
  const { context, problems, violations: seen } = await newContext("marketing-1 (walk)");
  const page = await context.newPage();
  let signInCookie = null;
  page.on("response", async (r) => {
    if (r.url() === `${url}/api/session` && r.request().method() === "POST") signInCookie = await r.headerValue("set-cookie");
  });
  const actions = [];
  let shotsMs = 0;
  const act = async (what, f) => {
    actions.push(what);
    await f();
  };
  const walkShot = async (name) => {
    const t = Date.now();
    await shot(page, name);
    shotsMs += Date.now() - t;
  };
  const sunday = comingSunday();
  const name = "10% off running shoes over $50";
  const started = Date.now();

  await act("open the console", () => page.goto(`${url}/`));
  await page.waitForURL(/\/sign-in\?next=/);
  await act("choose the key file marketing-1.key", () =>
    page.getByLabel("Key file", { exact: true }).setInputFiles(join(work, "keys/marketing-1.key")));
  await act("click Enroll key", () => page.getByRole("button", { name: "Enroll key" }).click());
  await act("click Sign in as marketing-1", () => page.getByRole("button", { name: "Sign in as marketing-1" }).click());
  await page.waitForURL(`${url}/`);
  await act("click New promotion", () => page.getByRole("link", { name: "New promotion" }).click());
  await act("pick the template Percent off a category", () =>
    page.getByLabel("Start from a template").selectOption({ label: "Percent off a category" }));
  // Nothing can be saved yet, and the form says why next to the field.
  await page.waitForSelector("#f-name-error:not([hidden])");
  assert.equal(await text(page, "#f-name-error"), "give the promotion a name");
  assert.equal(await page.getAttribute("#f-name", "aria-invalid"), "true");
  assert.equal(await page.isDisabled("#save"), true);
  assert.match(await text(page, "#save-why"), /^Fix the \d+ problems? marked above to save\.$/);
  await act("type the name", () => page.getByLabel("Name", { exact: true }).pressSequentially(name));
  // The template's 10 % is what is wanted: the person reads it and moves on.
  assert.equal(await page.getByLabel("Percent off", { exact: true }).inputValue(), "10");
  assert.equal(await page.getByLabel("Reward type").inputValue(), "percentOff");
  await act("type the category shoes", () => page.getByLabel("Categories", { exact: true }).pressSequentially("shoes"));
  await act("type the minimum spend 50", () => page.getByLabel("Minimum spend (USD)").pressSequentially("50"));
  await act(`pick Sunday ${sunday} as the last day`, () => page.getByLabel("Last day").fill(sunday));
  await act("type 1,000 total uses", () => page.getByLabel("Total uses").pressSequentially("1,000"));
  await act("type 1 use per customer", () => page.getByLabel("Uses per customer").pressSequentially("1"));
  await waitReadyToSave(page);
  // The person reads the side panel before saving: the words say what was meant.
  const panelWords = await text(page, "#rv-words");
  for (const w of ["10% off items in categories shoes", "spend at least 50 USD", "1000 uses in all, 1 per customer"]) {
    assert.ok(panelWords.includes(w), `${w} in: ${panelWords}`);
  }
  assert.match(await text(page, "#schedule-words"), /until the end of Sunday/);
  await walkShot("walk-01-filled");
  await act("click Save draft", () => page.getByRole("button", { name: "Save draft" }).click());
  await page.waitForURL(/\/promotions\/[^/]+$/);
  await page.waitForSelector('#state [data-state="draft"]');
  const seconds = (Date.now() - started - shotsMs) / 1000;
  await waitForText(page, "#title", name);
  await shot(page, "walk-02-saved");

  const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  assert.equal(id, "10pct-off-running-shoes-over-50", "the id made from the name");
  const saved = await detail(page, id);
  assert.equal(saved.state, "draft");
  const t = saved.terms;
  assert.equal(t.name, name);
  assert.deepEqual(t.reward, { type: "percentOff", percent: "10", on: "lines" });
  assert.deepEqual(t.items.categories, ["shoes"]);
  assert.deepEqual(t.conditions, { minSubtotal: "50" });
  assert.equal(t.limits.totalUses, 1000);
  assert.equal(t.limits.perCustomer, 1);
  assert.equal(t.limits.budget, "5000", "the template's budget, left as it was");
  assert.equal(t.startsAt, undefined, "live from publication");
  // Sunday night in the shop's time zone: the last second of Sunday is in, Monday 00:00 is out.
  const ends = new Date(t.endsAt);
  assert.equal(wallClock(new Date(ends - 1000)).weekday, "Sunday");
  assert.equal(wallClock(new Date(ends - 1000)).date, sunday);
  assert.deepEqual([wallClock(ends).weekday, wallClock(ends).time, wallClock(ends).seconds], ["Monday", "00:00", "00"]);

  const figures = { steps: actions.length, seconds: Number(seconds.toFixed(1)), promotion: id, actions };
  console.log(`console walk: ${figures.steps} steps, ${figures.seconds} s`);
  writeFigures("walk.json", figures);
  assert.ok(seconds < 120, `the walk took ${seconds} s`);

  assert.ok(signInCookie, "the sign-in answer sets the session cookie");
  S.signInCookie = signInCookie;
  S.walk = { id, terms: t, violations: seen };
  assert.deepEqual(problems, []);
  S.marketing = {
    keyId: "marketing-1", context, page, problems, violations: seen,
    close: async () => {
      violations.push(...seen);
      await context.close();
    },
  };
});

// ---------------------------------------------------------------------------------------------
// 2. The side panel is `promoseal lint`; the simulator is the ledger

test("the side panel's figures are promoseal lint's, and the simulator's total is the ledger's", async () => {
  const { page } = S.marketing;
  const id = S.walk.id;
  await openPromotion(page, id, "draft");
  await page.waitForSelector('#rv-lint [data-fact="projected-cost"]');

  // `promoseal lint --json` on a copy of the project with the draft among the promotions.
  const copy = tempDir("console-lint");
  try {
    cpSync(shop, copy, { recursive: true });
    cpSync(join(shop, "drafts", `${id}.json`), join(copy, "promotions", `${id}.json`));
    rmSync(join(copy, "drafts"), { recursive: true, force: true });
    const lint = spawnSync(promoseal, ["lint", "--project", copy, "--json"], { encoding: "utf8" });
    assert.ok(lint.status === 0 || lint.status === 4, `promoseal lint: ${lint.status} ${lint.stderr}`);
    const report = JSON.parse(lint.stdout);
    const mine = report.promotions.find((p) => p.id === id);
    assert.ok(mine, `${id} in the lint report`);
    const findings = report.promotions.flatMap((p) => p.findings).filter((f) => f.promotionId === id || (f.related || []).includes(id));
    const pr = mine.projection;

    // The panel, as the page shows it.
    const shown = await page.$$eval("#rv-lint .finding", (lis) => lis.map((li) => ({ rule: li.dataset.rule, text: li.textContent.replace(/\s+/g, " ").trim() })));
    assert.equal(shown.length, findings.length, `findings: ${JSON.stringify(shown)} against ${JSON.stringify(findings)}`);
    // The template's budget (5,000) is within the policy's 20,000: no maxBudget finding, on
    // the page as in the CLI.
    assert.ok(!findings.some((f) => f.rule === "maxBudget"), JSON.stringify(findings));
    findings.forEach((f, i) => {
      assert.equal(shown[i].rule, f.rule);
      assert.equal(shown[i].text, `${f.severity} ${f.message}`);
    });
    const cost = await text(page, '#rv-lint [data-fact="projected-cost"]');
    const demand = `${pr.projectedSpend} USD for ${pr.expectedRedemptions} redemptions`;
    const over = `over the ${pr.redemptions} of ${pr.samples} sample carts it applied to`;
    // The template's budget (5,000 USD) is below what 1,000 redemptions would take: the
    // projection is capped by it, as the ledger caps the spend.
    assert.equal(pr.budgetCapsAt, "5000.00", JSON.stringify(pr));
    assert.equal(
      cost,
      `at most ${pr.budgetCapsAt} USD: its budget stops it there (without the budget, ${demand}, average ${pr.averageDiscount} USD, ${over})`,
    );
    const margin = await text(page, '#rv-lint [data-fact="margin"]');
    const m = pr.margin;
    assert.equal(
      margin,
      `the discount eats ${m.percentOfMargin} % of the margin on the targeted items (revenue ${m.revenue}, cost ${m.cost}, discount ${m.discount} USD)`,
    );
    const exposure = await text(page, "#rv-exposure");
    assert.ok(exposure.includes(`Deepest percentage ${mine.exposure.maxPercent} %`), exposure);
    // The server's review (POST /api/review) says the same as the CLI, figure for figure.
    const server = await call(page, "POST", "/review", { terms: S.walk.terms });
    assert.equal(server.status, 200);
    assert.deepEqual(server.body.lint.promotions, [{ ...mine, findings }]);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }

  // The simulator prices the sample cart at a time the ledger will accept: this minute.
  const at = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const wall = wallClock(at);
  const sample = '#sim-samples .sim-result[data-sample="typical"]';
  await page.waitForSelector(sample);
  await page.getByLabel("Price on (date)").fill(wall.date);
  await page.getByLabel("At (time)").fill(wall.time);
  await waitForText(page, "#sim-at", `Priced at`);
  const sim = {
    total: (await text(page, `${sample} [data-fact="total"]`)).replace(/ USD$/, ""),
    discount: (await text(page, `${sample} [data-fact="discount"]`)).replace(/ USD$/, ""),
    mine: await text(page, `${sample} [data-fact="this-promotion"]`),
  };
  assert.equal(sim.mine, "This promotion: 12.00 USD off.");
  await shot(page, "walk-03-review-panel");

  // Submitted, approved by marketing (all it needs), published by a release person.
  await submit(page, id);
  await approve(page, id);
  await waitForText(page, "#status", "The approvals are complete");
  await page.waitForSelector('#state [data-state="approved"]');
  S.release = await person("release-2");
  const released = await publish(S.release.page);
  assert.ok(released.served.payload.promotions.some((p) => p.id === id), "the release carries the walk's promotion");
  const name = released.served.payload.promotions.find((p) => p.id === id).name;
  assert.ok(released.question.includes(`go live: ${name}`), released.question);

  // The same cart at the ledger, through the edge: priced there again from the signed bundle.
  const context = (await call(page, "GET", "/context")).body;
  const input = structuredClone(context.samples.find((s) => s.name === "typical").input);
  input.context = { ...input.context, now: at.toISOString().replace(/\.\d{3}Z$/, "Z") };
  // One use per customer: the ledger counts it against a customer (no condition reads the id).
  input.customer = { id: "cus-console-walk" };
  const res = await fetch(`${stack.worker.url}/v1/redeem`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `console-walk-${Date.now()}` },
    body: JSON.stringify({
      orderId: `console-walk-${Date.now()}`,
      bundle: { id: BUNDLE, version: released.version },
      input,
      quote: { discountTotal: sim.discount, total: sim.total },
    }),
  });
  const answer = await res.json();
  assert.ok(res.ok, `the ledger priced the cart otherwise: ${JSON.stringify(answer)}`);
  const redemption = await (await fetch(`${stack.ledger.url}/v1/redemptions/${answer.id}`)).json();
  assert.equal(redemption.state, "committed");
  assert.equal(redemption.total, sim.total, "the ledger's total is the simulator's");
  assert.equal(redemption.discountTotal, sim.discount);
  const applied = redemption.promotions.find((p) => p.promotionId === id);
  assert.ok(applied, JSON.stringify(redemption.promotions));
  assert.deepEqual(S.marketing.problems, []);
});

// ---------------------------------------------------------------------------------------------
// 3. Approvals signed in each approver's browser, a release, the storefront, the ledger

test("marketing and finance approve in their own browsers; the release reaches the edge and the storefront; the ledger confirms a checkout", async () => {
  const m = S.marketing.page;
  const name = "25% off trail gear";
  const id = await createPromotion(m, { name, fields: { "Percent off": "25", Categories: "trail", "Budget (USD)": "15000" } });
  S.trail = { id, name };
  // 25 % is above the root's 20 % rule: finance must approve too, and finance-1's limit covers it.
  assert.deepEqual(await m.$$eval("#rv-approvers > ul > li", (lis) => lis.map((li) => li.dataset.role)), ["marketing", "finance"]);
  assert.match(await text(m, '#rv-approvers li[data-key-id="finance-1"]'), /within its limits/);
  await submit(m, id);
  await approve(m, id);
  await waitForText(m, "#status", "Approved as marketing. Still waiting for finance.");
  assert.equal(await m.getAttribute('.approval-list li[data-key-id="marketing-1"]', "data-current"), "true");
  await shot(m, "approve-01-marketing");

  S.finance = await person("finance-1");
  const f = S.finance.page;
  // Each browser holds its own key only, and cannot give it out.
  const custody = await f.evaluate(async () => {
    const { listKeys } = await import("/assets/keys.js");
    const held = (await listKeys()).map((k) => k.keyId);
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open("promoseal-console");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const entry = await new Promise((ok) => {
      const r = db.transaction("keys").objectStore("keys").get("finance-1");
      r.onsuccess = () => ok(r.result);
    });
    db.close();
    let exported = true;
    try {
      await crypto.subtle.exportKey("pkcs8", entry.privateKey);
    } catch {
      exported = false;
    }
    return { held, extractable: entry.privateKey.extractable, exported, fields: Object.keys(entry).sort() };
  });
  assert.deepEqual(custody, { held: ["finance-1"], extractable: false, exported: false, fields: ["addedAt", "keyId", "privateKey", "source"] });
  await openPromotion(f, id, "review");
  assert.equal(await text(f, "#your-verdict"), "Within your limit: your approval counts for finance.");
  await approve(f, id);
  await waitForText(f, "#status", "Approved as finance. The approvals are complete");
  await f.waitForSelector('#state [data-state="approved"]');
  for (const k of ["marketing-1", "finance-1"]) {
    assert.equal(await f.getAttribute(`.approval-list li[data-key-id="${k}"]`, "data-current"), "true", k);
  }
  await shot(f, "approve-02-finance");
  const approved = await detail(f, id);
  assert.equal(approved.state, "approved");
  assert.deepEqual(approved.approvals.map((a) => [a.keyId, a.current]).sort(), [["finance-1", true], ["marketing-1", true]]);

  // release-2 publishes; the edge serves the new version within seconds.
  const r = S.release.page;
  const released = await publish(r);
  assert.ok(released.served.payload.promotions.some((p) => p.id === id), "the release carries the approved promotion");
  const figures = {
    version: released.version,
    clickToEdgeMs: released.clickToEdgeMs,
    clickToConsoleAnswerMs: released.clickToAnswerMs,
  };
  console.log(`console publish: version ${figures.version} served at the edge ${figures.clickToEdgeMs} ms after the click on Publish (the console answered after ${figures.clickToConsoleAnswerMs} ms)`);
  writeFigures("publish.json", figures);
  S.published = figures;
  await waitForText(r, "#current-version", String(released.version));
  assert.match(await text(r, `#release-history li[data-action="published"][data-version="${released.version}"]`), /published by release-2/);
  await shot(r, "approve-03-published");

  // The storefront shows it: a trail jacket ($89.00) at 25 % off.
  const shopper = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const s = await shopper.newPage();
  const shopperErrors = [];
  s.on("pageerror", (e) => shopperErrors.push(e.message));
  await s.goto(stack.web.url);
  await s.waitForFunction(() => window.promoseal?.ready || window.promoseal?.errors.length);
  assert.match(await text(s, "#bundle-status"), new RegExp(`bundle ${BUNDLE} v${released.version}, \\d+ promotions`));
  await s.click('#products li[data-sku="JKT-1"] button');
  await waitForText(s, "#totals", `${name}−$22.25`);
  const total = await s.getAttribute("#totals", "data-total");
  await s.click("#checkout");
  await s.waitForSelector("#receipt:not([hidden])");
  await shot(s, "approve-04-storefront-receipt");
  const redemption = await (await fetch(`${stack.ledger.url}/v1/redemptions/${await s.getAttribute("#receipt", "data-redemption")}`)).json();
  assert.equal(redemption.state, "committed");
  assert.equal(redemption.total, total);
  assert.ok(redemption.promotions.some((p) => p.promotionId === id && p.amount === "22.25"), JSON.stringify(redemption.promotions));
  assert.deepEqual(shopperErrors, []);
  await shopper.close();
  assert.deepEqual([...S.marketing.problems, ...S.finance.problems, ...S.release.problems], []);
});

test("the console logs how long the edge took to serve the release (servedAtEdge)", async () => {
  const r = S.release.page;
  const version = S.published.version;
  // The console polls the edge after its push and logs the latency: wait for that entry.
  let entry;
  const deadline = Date.now() + 30_000;
  while (!entry) {
    const history = (await call(r, "GET", "/releases")).body.history;
    entry = history.find((e) => e.action === "servedAtEdge" && e.detail.version === version);
    if (!entry) {
      assert.ok(
        Date.now() < deadline,
        `no servedAtEdge entry for version ${version} in 30 s: ${JSON.stringify(history.map((e) => [e.action, e.detail.version]))}`,
      );
      await sleep(100);
    }
  }
  assert.ok(Number.isInteger(entry.detail.afterMs) && entry.detail.afterMs >= 0 && entry.detail.afterMs < 60_000, JSON.stringify(entry));
  await r.goto(`${url}/releases`);
  await waitForText(r, `#release-history li[data-action="servedAtEdge"][data-version="${version}"]`, `served at the edge ${entry.detail.afterMs} ms after the push`);
  // Rolling back to the version published now is refused at the field, before anything is sent.
  await r.fill("#rollback-version", String(version));
  await r.click("#rollback");
  await waitForText(r, "#rollback-error", `Version ${version} is the current version: give an earlier one.`);
  assert.equal(await r.getAttribute("#rollback-version", "aria-invalid"), "true");
  assert.equal(await r.evaluate(() => document.activeElement?.id), "rollback-version");
  assert.equal(await r.isHidden("#alert"), true);
  S.published.servedAtEdgeAfterMs = entry.detail.afterMs;
  console.log(`console publish: the console measured version ${version} at the edge ${entry.detail.afterMs} ms after its push`);
  writeFigures("publish.json", S.published);
});

// ---------------------------------------------------------------------------------------------
// 4. Refusals

test("Your approvals: marketing approves three promotions with one signature; the release carries that one batch", async () => {
  const m = S.marketing.page;
  const ids = [];
  for (const [n, cat] of [["5", "socks"], ["6", "caps"], ["7", "bottles"]]) {
    const id = await createPromotion(m, { name: `${n}% off ${cat} (batch)`, fields: { "Percent off": n, Categories: cat, "Budget (USD)": "1000" } });
    await submit(m, id);
    ids.push(id);
  }
  await m.goto(`${url}/approvals`);
  await m.waitForSelector("#batch-list");
  // Only these three are signed (other tests may leave terms in review).
  for (const box of await m.$$('#batch-list input[name="approve"]')) {
    const on = ids.includes(await box.getAttribute("value"));
    if ((await box.isChecked()) !== on && !(await box.isDisabled())) await box.click();
  }
  for (const id of ids) {
    const digest = (await detail(m, id)).digest;
    assert.match(await m.getAttribute(`#batch-list li[data-id="${id}"] .digest code`, "title"), new RegExp(`^${digest}$`), "the page's digest is the server's");
  }
  assert.equal(await text(m, "#sign-batch"), "Sign and approve 3 promotions with one signature");
  await shot(m, "batch-01-queue");
  await m.click("#sign-batch");
  await waitForText(m, "#status", "3 approved with one signature.");
  for (const id of ids) {
    assert.equal(await m.getAttribute(`#done-list li[data-id="${id}"]`, "data-state"), "approved");
    assert.equal((await detail(m, id)).state, "approved");
    assert.equal(await m.$(`#batch-list li[data-id="${id}"]`), null, "approved terms leave the queue");
  }
  await shot(m, "batch-02-done");

  // One marketing signature over the three digests, in the release the edge serves.
  const digests = [];
  for (const id of ids) digests.push((await detail(m, id)).digest);
  const released = await publish(S.release.page);
  const batches = released.served.payload.approvals.filter((a) => a.keyId === "marketing-1" && digests.every((d) => a.digests.includes(d)));
  assert.equal(batches.length, 1, JSON.stringify(released.served.payload.approvals));
  assert.deepEqual(batches[0].digests, [...batches[0].digests].sort(), "ascending");
  assert.equal(batches[0].digests.length, 3);

  assert.deepEqual(S.marketing.problems, []);
});

test("refusals: an approval beyond the approver's limit, a forged one, one over other terms", async () => {
  const m = S.marketing.page;
  const f = S.finance.page;
  // 15 % off tees with a 25,000 budget: finance must approve (budget above 10,000), and
  // finance-1 may approve budgets up to 20,000 only.
  const big = await createPromotion(m, { name: "15% off tees, big budget", fields: { "Percent off": "15", Categories: "tees", "Budget (USD)": "25000" } });
  // 22 % off socks: finance must approve (above 20 %), within finance-1's limit.
  const socks = await createPromotion(m, { name: "22% off socks", fields: { "Percent off": "22", Categories: "socks", "Budget (USD)": "3000" } });
  S.big = big;
  S.socks = socks;
  for (const id of [big, socks]) {
    await submit(m, id);
    await approve(m, id);
    await waitForText(m, "#status", "Still waiting for finance");
  }

  // Beyond the limit: the page says so before, the server refuses, the page shows why.
  await openPromotion(f, big, "review");
  assert.equal(await text(f, "#your-verdict"), "Beyond your limit: your approval would be refused.");
  await f.getByRole("button", { name: "Approve", exact: true }).click();
  await waitForText(f, "#approve-body", "Your key's authorization limits do not cover these terms");
  await f.getByRole("button", { name: "Sign and approve" }).click();
  await f.waitForSelector('#alert p.refusal[data-reason="beyondLimit"]');
  assert.equal(await f.isVisible('#alert p.refusal[data-reason="beyondLimit"]'), true);
  assert.match(await text(f, "#alert"), /^Approval refused .*code: approvalRefused \(HTTP 403\)/);
  await shot(f, "refuse-01-beyond-limit");
  let d = await detail(f, big);
  assert.equal(d.state, "review");
  assert.deepEqual(d.approvals.map((a) => a.keyId), ["marketing-1"]);

  // A forged signature, and a real one over other terms: refused, nothing kept.
  d = await detail(f, socks);
  const other = (await detail(f, big)).digest;
  const cases = [
    { what: "a signature over other terms", body: { base: d.tag, digest: d.digest, signature: await approvalSignature(f, "finance-1", other) }, status: 422, reason: "badSignature" },
    { what: "a forged signature", body: { base: d.tag, digest: d.digest, signature: Buffer.alloc(64, 7).toString("base64") }, status: 422, reason: "badSignature" },
    { what: "a signature of other terms' digest", body: { base: d.tag, digest: other, signature: await approvalSignature(f, "finance-1", other) }, status: 409, code: "staleEdit" },
  ];
  for (const c of cases) {
    const res = await call(f, "POST", `/promotions/${socks}/approvals`, c.body);
    assert.equal(res.status, c.status, `${c.what}: ${JSON.stringify(res.body)}`);
    if (c.reason) assert.deepEqual([res.body.error.code, res.body.error.detail.reason], ["approvalRefused", c.reason], c.what);
    else assert.equal(res.body.error.code, c.code, c.what);
  }
  d = await detail(f, socks);
  assert.equal(d.state, "review");
  assert.deepEqual(d.approvals.map((a) => a.keyId), ["marketing-1"], "no refused approval is kept");
  assert.deepEqual(S.finance.problems, []);
});

test("refusals: a viewer sees no approve or edit action, and the API refuses its approval", async () => {
  const viewer = await person("viewer-1");
  const v = viewer.page;
  await v.waitForSelector("#promotion-table");
  assert.equal(await v.isHidden("#new-promotion"), true);
  await openPromotion(v, S.big, "review");
  assert.equal(await v.locator("#edit, #approve, #submit, #withdraw, #pause").count(), 0);
  assert.match(await text(v, "#approve-why"), /you hold viewer/);
  assert.equal(await v.isHidden("#comment-form"), true);
  await shot(v, "refuse-02-viewer");
  // Straight to the API, with a real signature by the viewer's own key.
  const d = await detail(v, S.big);
  const res = await call(v, "POST", `/promotions/${S.big}/approvals`, {
    base: d.tag, digest: d.digest, signature: await approvalSignature(v, "viewer-1", d.digest),
  });
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.deepEqual([res.body.error.code, res.body.error.detail.reason], ["approvalRefused", "notAnApprover"]);
  for (const [method, path, body] of [
    ["POST", "/promotions", { terms: { ...S.walk.terms, id: "viewer-made", name: "Viewer made" } }],
    ["POST", `/promotions/${S.big}/comments`, { text: "a viewer's comment" }],
    ["POST", "/releases", {}],
  ]) {
    const r = await call(v, method, path, body);
    assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual((await detail(v, S.big)).approvals.map((a) => a.keyId), ["marketing-1"]);
  assert.deepEqual(viewer.problems, []);
  await viewer.close();
});

test("refusals: an edit after approval makes the approval stale, visibly, and nothing of it is published", async () => {
  const m = S.marketing.page;
  const id = S.socks;
  await openPromotion(m, id, "review");
  await m.getByRole("link", { name: "Edit", exact: true }).click();
  await m.waitForSelector("#editor:not([hidden])");
  await waitForText(m, "#status", "approvals given so far no longer count");
  await m.getByLabel("Percent off", { exact: true }).fill("21");
  await waitReadyToSave(m);
  await m.getByRole("button", { name: "Save draft" }).click();
  await m.waitForURL(`${url}/promotions/${id}`);
  await m.waitForSelector('#state [data-state="draft"]');
  const stale = '.approval-list li[data-key-id="marketing-1"][data-current="false"]';
  await m.waitForSelector(stale);
  assert.match(await text(m, stale), /stale: it approved other terms/);
  assert.equal(await text(m, '.role-status li[data-role="marketing"]'), "marketing: waiting");
  await shot(m, "refuse-03-stale-approval");
  const d = await detail(m, id);
  assert.equal(d.terms.reward.percent, "21");
  assert.deepEqual(d.approvals.map((a) => [a.keyId, a.current]), [["marketing-1", false]]);

  // A release now carries neither the edited terms nor the ones beyond finance's limit.
  const released = await publish(S.release.page);
  const ids = released.served.payload.promotions.map((p) => p.id);
  for (const p of [id, S.big]) assert.ok(!ids.includes(p), `${p} is not published`);
  assert.ok(ids.includes(S.trail.id) && ids.includes(S.walk.id), "the approved ones stay");
  const edge = readFileSync(join(shop, "published/edge.bundle"), "utf8").split("\n")[1];
  assert.deepEqual(JSON.parse(edge).promotions.map((p) => p.id), ids, "the ledger's bundle carries the same");
  const list = (await call(m, "GET", "/promotions")).body.promotions;
  assert.equal(list.find((p) => p.id === id).state, "draft");
  assert.equal(list.find((p) => p.id === S.big).state, "review");
});

test("refusals: a stale form saved over a newer edit shows the 409 message and saves nothing", async () => {
  const id = S.socks;
  const a = S.marketing.page;
  const other = await person("promotions-1");
  const b = other.page;
  for (const p of [a, b]) {
    await p.goto(`${url}/promotions/${id}/edit`);
    await waitReadyToSave(p);
  }
  // B saves first.
  await b.getByLabel("Name", { exact: true }).fill("22% off socks, renamed");
  await waitReadyToSave(b);
  await b.getByRole("button", { name: "Save draft" }).click();
  await b.waitForURL(`${url}/promotions/${id}`);
  await waitForText(b, "#title", "22% off socks, renamed");
  // A's form still holds the terms from before.
  await a.getByLabel("Uses per customer").fill("2");
  await waitReadyToSave(a);
  await a.getByRole("button", { name: "Save draft" }).click();
  await a.waitForSelector("#alert:not([hidden])");
  assert.match(await text(a, "#alert"), /^Someone else changed this promotion these terms changed since you opened them .*code: staleEdit \(HTTP 409\) .*Nothing of yours was saved\./);
  assert.equal(await a.isVisible("#reload-latest"), true);
  assert.equal(new URL(a.url()).pathname, `/promotions/${id}/edit`, "the form stays, with what was typed");
  assert.equal(await a.getByLabel("Uses per customer").inputValue(), "2");
  await shot(a, "refuse-04-stale-form");
  const d = await detail(a, id);
  assert.equal(d.terms.name, "22% off socks, renamed");
  assert.equal(d.terms.limits.perCustomer, undefined, "nothing of the stale form was saved");
  assert.deepEqual(other.problems, []);
  S.keeper = other;
});

test("refusals: oversized and malformed code uploads get a clear error and write nothing", async () => {
  const k = S.keeper.page;
  const before = (await call(k, "GET", "/codes")).body;
  const files = readdirSync(join(shop, "codes")).map((f) => [f, readFileSync(join(shop, "codes", f), "utf8")]);
  const upload = (filename, size, fillByte) =>
    k.evaluate(
      async ([filename, size, fillByte]) => {
        const me = await (await fetch("/api/session")).json();
        const res = await fetch(`/api/codes/vip/import?filename=${encodeURIComponent(filename)}`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-csrf-token": me.csrf },
          body: new Uint8Array(size).fill(fillByte),
        });
        return { status: res.status, body: await res.json() };
      },
      [filename, size, fillByte],
    );
  const big = await upload("codes.csv", 11 * 1024 * 1024, 65);
  assert.equal(big.status, 413, JSON.stringify(big.body));
  assert.equal(big.body.error.code, "bodyTooLarge");
  const pdf = await upload("codes.pdf", 1024, 37);
  assert.equal(pdf.status, 400, JSON.stringify(pdf.body));
  assert.match(pdf.body.error.message, /`codes\.pdf`: unsupported file type/);
  const garbage = await upload("codes.xlsx", 4096, 0);
  assert.equal(garbage.status, 422, JSON.stringify(garbage.body));
  assert.match(garbage.body.error.message, /codes\.xlsx/);
  assert.deepEqual((await call(k, "GET", "/codes")).body, before, "the inventory is as it was");
  assert.deepEqual(readdirSync(join(shop, "codes")).map((f) => [f, readFileSync(join(shop, "codes", f), "utf8")]), files);
  const audit = (await call(k, "GET", "/audit")).body;
  assert.equal(audit.entries.filter((e) => e.action === "codesImported").length, 0);
  assert.equal(audit.intact, true);
  await S.keeper.close();
});

// ---------------------------------------------------------------------------------------------
// 5. Page weight

test("page weight: the bytes each page's first load transfers", async () => {
  const cookies = await S.marketing.context.cookies();
  const pages = [
    ["/sign-in", "sign-in", "#held > *:not(.muted), #no-keys"],
    ["/", "promotions", "#promotion-table"],
    ["/promotions/new", "editor", "#problem-count"],
    [`/promotions/${S.walk.id}`, "promotion", '#sim-samples .sim-result[data-sample="typical"]'],
    ["/releases", "releases", "#release-history"],
    ["/audit", "audit", "#chain-state"],
  ];
  const weight = {};
  for (const [path, name, ready] of pages) {
    const { context, problems, violations: seen } = await newContext(`weight ${name}`);
    if (path !== "/sign-in") await context.addCookies(cookies);
    const page = await context.newPage();
    // Every console error, 4xx responses included: a signed-out visitor's page logs none (the
    // session probe answers 200 `{signedIn: false}`).
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    // Every request, its response and whether its body finished loading.
    const requests = [];
    const responses = new Map();
    const finished = new Set();
    page.on("request", (req) => requests.push(req));
    page.on("response", (res) => responses.set(res.request(), res));
    page.on("requestfinished", (req) => finished.add(req));
    page.on("requestfailed", (req) => problems.push(`${req.url()}: ${req.failure()?.errorText}`));
    await page.goto(`${url}${path}`);
    await page.waitForSelector(ready);
    const deadline = Date.now() + 10_000;
    const waiting = () => requests.filter((r) => !responses.has(r) || (!finished.has(r) && !r.url().includes("/api/")));
    while (waiting().length) {
      assert.ok(Date.now() < deadline, `${name}: still loading ${waiting().map((r) => r.url())}`);
      await sleep(20);
    }
    assert.deepEqual(errors, [], `${name}: console errors`);
    const byKind = {};
    const urls = [];
    let transferred = 0;
    let decoded = 0;
    for (const req of requests) {
      const res = responses.get(req);
      const type = (res.headers()["content-type"] || "").split(";")[0];
      const kind = type === "text/html" ? "html" : type === "text/javascript" ? "js" : type === "text/css" ? "css"
        : type === "application/wasm" ? "wasm" : type === "application/json" ? "api" : type || "other";
      let bytes;
      let body;
      if (finished.has(req)) {
        const sizes = await req.sizes();
        bytes = sizes.responseBodySize + sizes.responseHeadersSize;
        body = (await res.body()).length;
      } else {
        const headers = await res.headersArray();
        body = Number(res.headers()["content-length"] || 0);
        bytes = body + headers.reduce((n, h) => n + h.name.length + h.value.length + 4, 0);
      }
      byKind[kind] = (byKind[kind] || 0) + bytes;
      transferred += bytes;
      decoded += body;
      urls.push(new URL(req.url()).pathname);
    }
    weight[name] = { path, transferred, decoded, requests: requests.length, byKind };
    const assets = urls.filter((u) => !u.startsWith("/api/"));
    assert.equal(assets.length, new Set(assets).size, `no asset twice: ${assets}`);
    assert.deepEqual(problems, [], name);
    violations.push(...seen);
    await context.close();
  }
  writeFigures("weight.json", weight);
  for (const [name, w] of Object.entries(weight)) {
    const kinds = Object.entries(w.byKind).map(([k, b]) => `${k} ${(b / 1024).toFixed(1)}`).join(", ");
    console.log(`console weight: ${name} (${w.path}) ${(w.transferred / 1024).toFixed(1)} KiB transferred in ${w.requests} requests (${kinds}; ${(w.decoded / 1024).toFixed(1)} KiB decoded)`);
  }
  // Pages that price nothing do not fetch the evaluator.
  for (const name of ["sign-in", "promotions", "releases", "audit"]) assert.equal(weight[name].byKind.wasm, undefined, name);
  // The evaluator goes compressed: it is most of a pricing page's weight.
  for (const name of ["editor", "promotion"]) {
    assert.ok(weight[name].byKind.wasm > 0, name);
    assert.ok(weight[name].transferred < weight[name].decoded / 2, `${name}: ${weight[name].transferred} of ${weight[name].decoded} bytes`);
    assert.ok(weight[name].transferred < 1024 * 1024, `${name}: ${weight[name].transferred} bytes`);
  }
});

// ---------------------------------------------------------------------------------------------
// 6. Security headers

test("security: a strict CSP on every page, a HttpOnly SameSite=Strict session cookie, CSRF and origin checks, no CSP violation", async () => {
  const { page } = S.marketing;
  for (const path of ["/sign-in", "/", "/promotions/new", `/promotions/${S.walk.id}`, `/promotions/${S.walk.id}/edit`, "/releases", "/audit", "/assets/common.js", "/api/session"]) {
    const res = await page.goto(`${url}${path}`);
    const h = res.headers();
    const csp = h["content-security-policy"] || "";
    const directives = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert.deepEqual(directives["default-src"], ["'none'"], `${path}: ${csp}`);
    assert.deepEqual(directives["script-src"], ["'self'", "'wasm-unsafe-eval'"], `${path}: ${csp}`);
    assert.deepEqual(directives["frame-ancestors"], ["'none'"], path);
    assert.deepEqual(directives["base-uri"], ["'none'"], path);
    assert.ok(!/unsafe-inline|'unsafe-eval'|\*/.test(csp), `${path}: ${csp}`);
    assert.equal(h["x-content-type-options"], "nosniff", path);
    assert.equal(h["x-frame-options"], "DENY", path);
    assert.equal(h["referrer-policy"], "no-referrer", path);
  }

  // The session cookie: HttpOnly, Secure, SameSite=Strict, out of reach of the page's scripts.
  const parts = S.signInCookie.split(";").map((p) => p.trim());
  assert.match(parts[0], /^promoseal_console=[A-Za-z0-9_-]{43}$/);
  for (const p of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"]) assert.ok(parts.includes(p), `${p} in ${S.signInCookie}`);
  const [cookie] = (await S.marketing.context.cookies(url)).filter((c) => c.name === "promoseal_console");
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite], [true, true, "Strict"]);
  await page.goto(`${url}/`);
  await page.waitForSelector("#promotion-table");
  assert.equal(await page.evaluate(() => document.cookie.includes("promoseal_console")), false);

  // Writes: without the CSRF token, or from another origin, refused.
  const noToken = await page.evaluate(async () => {
    const res = await fetch("/api/promotions/x/comments", { method: "POST", headers: { "content-type": "application/json" }, body: '{"text":"hi"}' });
    return res.status;
  });
  assert.equal(noToken, 403);
  const csrf = (await call(page, "GET", "/session")).body.csrf;
  const comment = (origin, words) =>
    fetch(`${url}/api/promotions/${S.walk.id}/comments`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf, cookie: `promoseal_console=${cookie.value}`, origin },
      body: JSON.stringify({ text: words }),
    });
  assert.equal((await comment("http://evil.example", "from elsewhere")).status, 403);
  // The same request from the console's origin is taken: only the origin made the difference.
  assert.equal((await comment(url, "from the console")).status, 201);
  const comments = (await detail(page, S.walk.id)).history.filter((e) => e.action === "commented");
  assert.deepEqual(comments.map((e) => e.detail.text), ["from the console"]);

  // After signing in, only a page of the console: never another site, however `next` spells it.
  for (const next of ["/%5Cevil.example/x", "/%09/evil.example/x", "/%5C%5Cevil.example", "//evil.example", "https://evil.example/"]) {
    await page.goto(`${url}/sign-in?next=${next}`);
    await page.waitForSelector("#already:not([hidden]) a");
    const href = await page.evaluate(() => document.querySelector("#already a").href);
    assert.equal(new URL(href).origin, new URL(url).origin, `next=${next} continues to ${href}`);
  }
  await page.goto(`${url}/sign-in?next=${encodeURIComponent("/releases?x=1")}`);
  await page.waitForSelector("#already:not([hidden]) a");
  assert.equal(await page.evaluate(() => document.querySelector("#already a").href), `${url}/releases?x=1`);

  // The CSP is enforced, and a violation would have been seen: an injected inline script does
  // not run, and is reported.
  const probe = await newContext("csp probe");
  const p = await probe.context.newPage();
  await p.goto(`${url}/sign-in`);
  const ran = await p.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.injected = true";
    document.body.append(s);
    return window.injected === true;
  });
  assert.equal(ran, false);
  await waitForViolation(probe.violations);
  await probe.context.close();

  // None in any page the people used, the walk's included.
  for (const who of [S.marketing, S.finance, S.release]) violations.push(...who.violations);
  assert.deepEqual(S.walk.violations, []);
  assert.deepEqual(violations, []);
});

// ---------------------------------------------------------------------------------------------
// 7. The audit log

test("the audit log: every step of the flow, approvals with their key and digest, an intact chain, the export", async () => {
  const { page } = S.marketing;
  await page.goto(`${url}/audit`);
  await waitForText(page, "#chain-state", "The hash chain is intact");
  const log = (await call(page, "GET", "/audit")).body;
  assert.equal(log.intact, true);
  const trail = log.entries.filter((e) => e.promotion === S.trail.id);
  assert.deepEqual(trail.map((e) => [e.action, e.actor]), [
    ["created", "marketing-1"], ["submitted", "marketing-1"], ["approved", "marketing-1"],
    ["approved", "finance-1"], ["approvalsComplete", "console"],
  ]);
  const digest = (await detail(page, S.trail.id)).digest;
  for (const e of trail.filter((x) => x.action === "approved")) {
    assert.equal(e.detail.keyId, e.actor);
    assert.equal(e.detail.digest, digest, "the digest approved is the terms'");
    assert.match(e.detail.signature, /^[A-Za-z0-9+/]{86}==$/);
  }
  const published = log.entries.filter((e) => e.action === "published");
  assert.deepEqual(published.map((e) => [e.actor, e.detail.pushed]), published.map(() => ["release-2", ["ledger", "edge"]]));
  // The walk's release, the trail gear's, the batch's, the one after the edit: one version
  // after another.
  const v = S.published.version;
  assert.deepEqual(published.map((e) => e.detail.version), [v - 1, v, v + 1, v + 2]);
  // No refused approval left a trace as an approval.
  assert.deepEqual(
    log.entries.filter((e) => e.action === "approved" && e.promotion === S.big).map((e) => e.actor),
    ["marketing-1"],
  );
  await shot(page, "audit-01-log");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export (JSON lines)" }).click()]);
  const lines = readFileSync(await download.path(), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, log.entries);
  assert.deepEqual(S.marketing.problems, []);
});

async function waitForViolation(list) {
  const deadline = Date.now() + 5000;
  while (list.length === 0) {
    assert.ok(Date.now() < deadline, "the injected inline script was reported as a CSP violation");
    await sleep(20);
  }
  assert.match(list[0], /CSP violation: script-src|Content Security Policy/);
}
