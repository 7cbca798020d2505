// The console's code inventory page (/codes) in headless Chromium against the whole stack (the
// ledger, the edge Worker in workerd, the console), as the promotions manager: generate a
// campaign and download its CSV, import a list, look a downloaded code up in lower case,
// deactivate it, export the campaign. The console writes code sets into its project folder, so
// the stack runs on a copy of what scripts/walkthrough.sh signed into PROMOSEAL_WORK (by
// default target/web-test), which stays as it was. Screenshots: target/console/screenshots.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium } from "@promoseal/testing/chromium";
import { target } from "@promoseal/testing/paths";
import { tempDir } from "@promoseal/testing/process";

const screenshots = join(target, "console", "screenshots");
const signed = process.env.PROMOSEAL_WORK ?? join(target, "web-test");
const work = tempDir("console-codes");
cpSync(signed, work, { recursive: true });
// The stack module reads PROMOSEAL_WORK when it loads.
process.env.PROMOSEAL_WORK = work;
const { startStack } = await import("@promoseal/testing/stack");

let stack, browser, context, page;
const problems = [];
/** The codes of the generated campaign, from its download. */
let codes = [];

const shot = (name) => page.screenshot({ path: join(screenshots, `codes-${name}.png`), fullPage: true });
const words = async (selector) => (await page.innerText(selector)).replace(/\s+/g, " ").trim();
/** A code set's row in the table: set, kind, state, codes, deactivated, used, unlocks. */
const row = (set) =>
  page.$$eval(`#code-sets tr[data-set="${set}"] > *`, (cells) => cells.slice(0, 7).map((c) => c.textContent.trim()));

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  stack = await startStack({}, { console: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  // Sign in as the promotions manager, with the key enrolled in this browser.
  await page.goto(`${stack.console.url}/sign-in`);
  await page.setInputFiles("#key-file", join(work, "keys/promotions-1.key"));
  await page.click("#enroll");
  await page.click('button:has-text("Sign in as promotions-1")');
  await page.waitForURL(`${stack.console.url}/`);
  problems.length = 0; // the sign-in page asks who is signed in: 401 before
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("the Codes page lists the code sets the walkthrough made", async () => {
  await page.click('nav a:has-text("Codes")');
  await page.waitForSelector("#code-sets");
  assert.equal(await page.getAttribute('nav a[href="/codes"]', "aria-current"), "page");
  assert.equal(await page.isHidden("#role-note"), true);
  assert.equal(await page.isHidden("#secret-note"), true);
  assert.equal(await page.isVisible("#tools"), true);
  assert.deepEqual(await row("spring"), ["spring", "Generated campaign", "Active", "1,000", "0", "0", "spring-5"]);
  assert.deepEqual(await row("vip"), ["vip", "Listed codes", "Active", "2", "0", "0", "vip-shoes"]);
  // Every input has a label; no id is used twice.
  const { unlabelled, duplicates } = await page.evaluate(() => {
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    return {
      unlabelled: [...document.querySelectorAll("input, select, textarea")].filter((i) => !i.labels?.length).map((i) => i.id),
      duplicates: ids.filter((id, i) => ids.indexOf(id) !== i),
    };
  });
  assert.deepEqual({ unlabelled, duplicates }, { unlabelled: [], duplicates: [] });
  await shot("01-sets");
});

test("generate a campaign: its codes come as a download, with the warning that they are shown once", async () => {
  await page.fill("#gen-set", "autumn");
  await page.fill("#gen-prefix", "aut-");
  await page.fill("#gen-count", "20");
  await page.click("#generate");
  await page.waitForSelector("#download-autumn");
  const result = await words("#generate-result");
  assert.match(result, /20 codes generated for autumn\./);
  assert.match(result, /the codes are never stored\..*derive the codes again with Export \(it is logged\)/);
  assert.equal(await page.getAttribute("#download-autumn", "download"), "autumn.csv");
  await page.waitForSelector('#code-sets tr[data-set="autumn"]');
  assert.match(await page.getAttribute("#download-autumn", "href"), /^blob:/);
  await shot("02-generated");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-autumn")]);
  assert.equal(download.suggestedFilename(), "autumn.csv");
  const lines = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.equal(lines[0], "code");
  codes = lines.slice(1);
  assert.equal(codes.length, 20);
  assert.ok(codes.every((c) => /^AUT-[0-9A-Z]+$/.test(c)), codes.join(" "));
  assert.equal(new Set(codes).size, 20);
  assert.deepEqual(await row("autumn"), ["autumn", "Generated campaign", "Active", "20", "0", "0", "—"]);
  // The same set again is refused, clearly.
  await page.fill("#gen-set", "autumn");
  await page.fill("#gen-count", "5");
  await page.click("#generate");
  await page.waitForSelector("#alert:not([hidden])");
  assert.match(await words("#alert"), /That id is taken code set `autumn` exists already/);
});

test("import a CSV: counts, duplicates and skipped rows; an unsupported file is refused", async () => {
  const dir = tempDir("codes-upload");
  const csv = join(dir, "newsletter.csv");
  // VIP-ANNA is the walkthrough's `vip` set's: a code belongs to one set, so it is left out.
  writeFileSync(csv, "Customer;Coupon Code\nada;NEWS-ONE\nbob;news-one\ncy;NEWS-TWO\n;\ndee;NEWS-THREE\neve;vip-anna\n");
  await page.fill("#import-set", "newsletter");
  await page.setInputFiles("#import-file", csv);
  await page.click("#import");
  await page.waitForSelector("#import-counts");
  assert.equal(await words("#import-outcome"), "Imported newsletter.csv into newsletter.");
  assert.equal(await page.textContent("#import-read"), "4");
  assert.equal(await page.textContent("#import-added"), "3");
  assert.equal(await page.textContent("#import-elsewhere"), "1 (vip: 1): a code belongs to one set");
  assert.equal(await page.textContent("#import-already"), "0");
  assert.equal(await page.textContent("#import-duplicates"), "1");
  assert.deepEqual(await row("newsletter"), ["newsletter", "Listed codes", "Active", "3", "0", "0", "—"]);
  await shot("03-imported");

  const pdf = join(dir, "list.pdf");
  writeFileSync(pdf, "%PDF-1.4\n");
  await page.setInputFiles("#import-file", pdf);
  await page.click("#import");
  await page.waitForSelector("#import-outcome.error-text");
  assert.match(await words("#alert"), /^Not a file type the console reads `list\.pdf`: unsupported file type/);
  assert.match(await words("#import-outcome"), /^Nothing was imported/);
  rmSync(dir, { recursive: true, force: true });
});

test("look up a downloaded code in lower case, deactivate it, and see it deactivated", async () => {
  const code = codes[3];
  await page.fill("#lookup-code", code.toLowerCase());
  await page.click("#lookup");
  await page.waitForSelector("#lookup-outcome[data-found]");
  assert.equal(await page.getAttribute("#lookup-outcome", "data-set"), "autumn");
  assert.equal(await page.getAttribute("#lookup-outcome", "data-status"), "active");
  assert.equal(await words("#lookup-status"), "Active");
  // The campaign is the project's, not yet in a published version.
  assert.equal(await words("#lookup-accepted"), "No, not by the published version.");
  await shot("04-lookup");

  await page.selectOption("#active-set", "autumn");
  await page.fill("#active-codes", code.toLowerCase());
  await page.click("#deactivate");
  assert.match(await words(".confirm"), /Deactivate 1 code of autumn\? It takes effect in the next published version\./);
  await page.click(".confirm button.danger");
  await page.waitForSelector("#active-outcome");
  assert.equal(
    await words("#active-outcome"),
    "Deactivated 1 code of autumn: this takes effect from the next published version.",
  );
  assert.deepEqual(await row("autumn"), ["autumn", "Generated campaign", "Active", "20", "1", "0", "—"]);
  // The same again changes nothing, and says so.
  await page.click("#deactivate");
  await page.click(".confirm button.danger");
  await page.waitForFunction(() => /^Nothing changed/.test(document.querySelector("#active-outcome")?.textContent));
  assert.equal(await words("#active-outcome"), "Nothing changed: the code is already deactivated.");

  await page.fill("#lookup-code", code.toLowerCase());
  await page.click("#lookup");
  await page.waitForSelector('#lookup-outcome[data-status="deactivated"]');
  assert.equal(await words("#lookup-status"), "Deactivated");
  await shot("05-deactivated");

  // A published code: the walkthrough's VIP-ANNA is accepted by the published version.
  await page.fill("#lookup-code", "vip-anna");
  await page.click("#lookup");
  await page.waitForSelector('#lookup-outcome[data-set="vip"]');
  assert.equal(await words("#lookup-accepted"), "Yes, by the published version.");
});

test(
  "a lookup shows the code's redemptions at the ledger",
  async () => {
    await page.fill("#lookup-code", codes[5].toLowerCase());
    await page.click("#lookup");
    await page.waitForSelector("#lookup-outcome[data-found]");
    assert.equal(await words("#lookup-ledger"), "None: the ledger has no redemption of this code.");
  },
);

test("a single-use code, once redeemed, is looked up as used up", async () => {
  const code = stack.springCodes[1];
  // The shop's backend redeems it through the edge, which prices the order itself.
  const res = await fetch(`${stack.worker.url}/v1/redeem`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `codes-used-up-${Date.now()}` },
    body: JSON.stringify({
      orderId: `codes-used-up-${Date.now()}`,
      input: {
        cart: { currency: "USD", lines: [{ id: "1", sku: "RUN-42", categories: ["shoes"], unitPrice: "120.00", quantity: 1 }] },
        context: { now: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), codes: [code] },
        customer: { id: "cus-codes-used-up" },
      },
    }),
  });
  const answer = await res.json();
  assert.equal(res.status, 201, JSON.stringify(answer));
  assert.ok(answer.promotions.some((p) => p.promotionId === "spring-5"), JSON.stringify(answer.promotions));
  await page.fill("#lookup-code", code.toLowerCase());
  await page.click("#lookup");
  await page.waitForSelector('#lookup-outcome[data-used-up="true"]');
  assert.equal(await page.getAttribute("#lookup-outcome", "data-status"), "active");
  assert.match(await words("#lookup-used-up"), /^Used up: the ledger refuses it/);
  assert.equal(await words("#lookup-accepted"), "The published version knows it, but its uses are taken (below).");
});

test("export the campaign: every code with its status", async () => {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-autumn")]);
  assert.equal(download.suggestedFilename(), "autumn.csv");
  const lines = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.equal(lines[0], "code,serial,status");
  assert.deepEqual(lines.slice(1).map((l) => l.split(",")[0]), codes);
  assert.deepEqual(lines.filter((l) => l.endsWith(",deactivated")), [`${codes[3]},3,deactivated`]);
  assert.match(await words("#status"), /Exported autumn as autumn\.csv\./);
  await shot("06-exported");
  // Only the refusals this test asked for (409 the taken id, 400 the PDF) reached the console log.
  assert.deepEqual(problems.filter((p) => !/status of (400|409) /.test(p)), []);
});
