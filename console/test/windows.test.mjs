// The editor's recurring window in headless Chromium against the whole stack (the ledger, the
// edge Worker in workerd, the console): marketing writes a weekday happy hour in the shop's
// time zone (America/New_York) over a range that spans the US change to summer time; the
// terms saved hold exactly the UTC intervals `promoseal windows` gives for the same window,
// and the review panel lists them in the shop's time. Reopened, the window is back in its
// controls; removed, the intervals are gone; intervals that follow no single weekly window
// are shown, kept, and replaced. The console writes into its project folder, so the stack
// runs on a copy of what scripts/walkthrough.sh signed into PROMOSEAL_WORK (by default
// target/web-test), which stays as it was. Screenshots: target/console/screenshots.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium } from "@promoseal/testing/chromium";
import { target } from "@promoseal/testing/paths";
import { tempDir } from "@promoseal/testing/process";

const screenshots = join(target, "console", "screenshots");
const signed = process.env.PROMOSEAL_WORK ?? join(target, "web-test");
const work = tempDir("console-windows");
cpSync(signed, work, { recursive: true });
// The stack module reads PROMOSEAL_WORK when it loads.
process.env.PROMOSEAL_WORK = work;
const { startStack } = await import("@promoseal/testing/stack");

const TIME_ZONE = "America/New_York"; // examples/shop/promoseal.toml
const promoseal = [join(target, "release", "promoseal"), join(target, "debug", "promoseal")].find(existsSync);

let stack, browser, context, page, url;
const problems = [];
const dialogs = [];

const shot = (name) => page.screenshot({ path: join(screenshots, `windows-${name}.png`), fullPage: true });
const words = async (selector) => (await page.innerText(selector)).replace(/\s+/g, " ").trim();

/** `promoseal windows` for the same window: the UTC intervals the CLI prints. */
function cli({ days, from, to, start, until }) {
  const args = ["windows", "--zone", TIME_ZONE, "--from", from, "--to", to, `--start=${start}`, `--until=${until}`];
  if (days.length) args.push("--days", days.join(","));
  const r = spawnSync(promoseal, args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The console's API from the signed-in page (its session cookie and CSRF token). */
async function call(method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const me = await (await fetch("/api/session")).json();
      const res = await fetch(`/api${path}`, {
        method,
        headers: { "content-type": "application/json", "x-csrf-token": me.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    [method, path, body],
  );
}

async function terms(id) {
  const r = await call("GET", `/promotions/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function waitReadyToSave() {
  await page.waitForFunction(
    () => document.querySelector("#problem-count")?.textContent === "No problems: ready to save." && !document.querySelector("#save").disabled,
  );
}

/** The windows the side panel lists: `{text, start, end}` each. */
const panelWindows = () =>
  page.$$eval("#rv-windows li", (items) => items.map((li) => ({ text: li.textContent, start: li.dataset.start, end: li.dataset.end })));

async function save() {
  await waitReadyToSave();
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.waitForURL(/\/promotions\/[^/]+$/);
  await page.waitForSelector('#state [data-state="draft"]');
}

async function edit(id) {
  await page.goto(`${url}/promotions/${encodeURIComponent(id)}/edit`);
  await page.waitForSelector("#editor:not([hidden])");
  await page.waitForSelector("#problem-count");
}

before(async () => {
  assert.ok(promoseal, "build the CLI first: cargo build --release -p promoseal-signer");
  mkdirSync(screenshots, { recursive: true });
  stack = await startStack({}, { console: true });
  url = stack.console.url;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  page = await context.newPage();
  // Leaving the editor with typed terms asks first: the prompts are counted and accepted.
  page.on("dialog", (d) => {
    dialogs.push(d.type());
    return d.type() === "beforeunload" ? d.accept() : d.dismiss();
  });
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && !/status of 4\d\d/.test(m.text()) && problems.push(m.text()));
  // Sign in as marketing, with the key enrolled in this browser.
  await page.goto(`${url}/sign-in`);
  await page.setInputFiles("#key-file", join(work, "keys/marketing-1.key"));
  await page.click("#enroll");
  await page.click('button:has-text("Sign in as marketing-1")');
  await page.waitForURL(`${url}/`);
  problems.length = 0;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

const HAPPY_HOUR = { days: ["mon", "tue", "wed", "thu", "fri"], from: "17:00", to: "19:00" };

test("a weekday happy hour in New York time over the change to summer time: the intervals are promoseal windows'", async () => {
  await page.goto(`${url}/promotions/new?template=blank`);
  await page.waitForSelector("#editor:not([hidden])");
  await page.getByLabel("Name", { exact: true }).fill("Happy hour");
  await page.getByLabel("Percent off", { exact: true }).fill("20");
  await page.getByLabel("Start date", { exact: true }).fill("2027-03-08");
  // The window first, without a last day: the form asks for one, next to it, and says why.
  for (const day of ["Mon", "Tue", "Wed", "Thu", "Fri"]) await page.getByLabel(day, { exact: true }).check();
  await page.getByLabel("From (time)", { exact: true }).fill("17:00");
  await page.getByLabel("To (time)", { exact: true }).fill("19:00");
  await page.waitForSelector("#f-end-date-error:not([hidden])");
  assert.equal(await words("#f-end-date-error"), "give a last day: a recurring window becomes dated windows up to it");
  assert.equal(await page.getAttribute("#f-end-date", "aria-invalid"), "true");
  assert.equal(await page.isDisabled("#save"), true);
  await page.getByLabel("Last day", { exact: true }).fill("2027-03-19");
  await waitReadyToSave();

  // The side panel lists the ten windows in the shop's time: 17:00-19:00 every weekday, EST
  // the first week and EDT the second (the change is on Sunday 2027-03-14).
  const listed = await panelWindows();
  assert.equal(listed.length, 10, JSON.stringify(listed));
  assert.equal(listed[0].text, "Mon, Mar 8, 2027, 17:00–19:00 EST");
  assert.equal(listed[4].text, "Fri, Mar 12, 2027, 17:00–19:00 EST");
  assert.equal(listed[5].text, "Mon, Mar 15, 2027, 17:00–19:00 EDT");
  assert.equal(listed[9].text, "Fri, Mar 19, 2027, 17:00–19:00 EDT");
  assert.match(await words("#window-summary"), /^10 windows from Mon, Mar 0?8, 2027.* listed in the review panel\.$/);
  assert.match(await words("#rv-words"), /only during 10 listed time windows/);
  assert.equal(await page.isVisible("#remove-window"), true);
  // Every input has a label; no id is used twice.
  const { unlabelled, duplicates } = await page.evaluate(() => {
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    return {
      unlabelled: [...document.querySelectorAll("input, select, textarea")].filter((i) => !i.labels?.length).map((i) => i.id),
      duplicates: ids.filter((id, i) => ids.indexOf(id) !== i),
    };
  });
  assert.deepEqual({ unlabelled, duplicates }, { unlabelled: [], duplicates: [] });
  await shot("01-happy-hour");
  await save();
  assert.equal(decodeURIComponent(new URL(page.url()).pathname.split("/").pop()), "happy-hour");

  const saved = (await terms("happy-hour")).terms;
  // The range: Monday 2027-03-08 00:00 EST to the end of Friday 2027-03-19 (EDT).
  assert.equal(saved.startsAt, "2027-03-08T05:00:00Z");
  assert.equal(saved.endsAt, "2027-03-20T04:00:00Z");
  const expected = cli({ ...HAPPY_HOUR, start: saved.startsAt, until: saved.endsAt });
  assert.deepEqual(saved.intervals, expected);
  assert.equal(saved.intervals[0].start, "2027-03-08T22:00:00Z");
  assert.equal(saved.intervals[5].start, "2027-03-15T21:00:00Z");
  assert.deepEqual(listed.map(({ start, end }) => ({ start, end })), expected);
  assert.deepEqual(saved.reward, { type: "percentOff", percent: "20", on: "lines" });

  // The promotion's page lists them too, for its approvers.
  await page.waitForSelector("#windows li");
  assert.equal(await page.$$eval("#windows li", (l) => l.length), 10);
  assert.equal(await page.textContent("#windows li"), "Mon, Mar 8, 2027, 17:00–19:00 EST");
  assert.deepEqual(problems, []);
});

test("reopened, the window is back in its controls; removed, the terms have no intervals", async () => {
  await edit("happy-hour");
  await waitReadyToSave();
  const checked = await page.$$eval('#f-window-days input[type="checkbox"]', (boxes) => boxes.filter((b) => b.checked).map((b) => b.value));
  assert.deepEqual(checked, HAPPY_HOUR.days);
  assert.equal(await page.inputValue("#f-window-from"), "17:00");
  assert.equal(await page.inputValue("#f-window-to"), "19:00");
  assert.equal((await panelWindows()).length, 10);

  await page.getByRole("button", { name: "Remove the recurring window" }).click();
  await page.waitForFunction(() => !document.querySelector("#rv-windows li"));
  assert.equal(await words("#rv-windows"), "No recurring window: live at any time between its start and end.");
  assert.equal(await page.isHidden("#remove-window"), true);
  assert.equal(await page.$$eval('#f-window-days input[type="checkbox"]', (boxes) => boxes.some((b) => b.checked)), false);
  assert.equal(await page.inputValue("#f-window-from"), "");
  assert.ok(!(await page.textContent("#terms-json")).includes("intervals"));
  await save();
  const t = (await terms("happy-hour")).terms;
  assert.equal(t.intervals, undefined);
  assert.equal(t.startsAt, "2027-03-08T05:00:00Z");
  assert.equal(await page.isHidden("#windows-section"), true);
  assert.deepEqual(problems, []);
});

test("intervals that follow no single weekly window are shown and kept, then replaced", async () => {
  // Terms as the CLI's user writes them: the happy hour without Wednesday 2027-03-17.
  const d = await terms("happy-hour");
  const cliIntervals = cli({ ...HAPPY_HOUR, start: d.terms.startsAt, until: d.terms.endsAt });
  const intervals = cliIntervals.filter((iv) => iv.start !== "2027-03-17T21:00:00Z");
  assert.equal(intervals.length, 9);
  const put = await call("PUT", "/promotions/happy-hour", { terms: { ...d.terms, intervals }, base: d.tag });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  await edit("happy-hour");
  await waitReadyToSave();
  // Nothing in the controls; the nine windows listed in the shop's time and kept as they are.
  assert.equal(await page.$$eval('#f-window-days input[type="checkbox"]', (boxes) => boxes.some((b) => b.checked)), false);
  assert.equal(await page.inputValue("#f-window-from"), "");
  assert.match(await words("#window-summary"), /^The promotion is live only inside its 9 time windows, listed in the review panel/);
  const listed = await panelWindows();
  assert.equal(listed.length, 9);
  assert.ok(!listed.some((w) => w.text.startsWith("Wed, Mar 17")), JSON.stringify(listed));
  assert.equal(await page.isVisible("#remove-window"), true);
  await shot("02-kept");
  // An edit elsewhere keeps them.
  await page.getByLabel("Percent off", { exact: true }).fill("25");
  await waitReadyToSave();
  assert.deepEqual(JSON.parse(await page.textContent("#terms-json")).intervals, intervals);

  // Replaced: weekends 10:00-14:00; the one weekend in the range is the change's.
  const brunch = { days: ["sat", "sun"], from: "10:00", to: "14:00" };
  await page.getByLabel("Sat", { exact: true }).check();
  await page.getByLabel("Sun", { exact: true }).check();
  await page.getByLabel("From (time)", { exact: true }).fill(brunch.from);
  await page.getByLabel("To (time)", { exact: true }).fill(brunch.to);
  await page.waitForFunction(() => document.querySelectorAll("#rv-windows li").length === 2);
  assert.deepEqual((await panelWindows()).map((w) => w.text), [
    "Sat, Mar 13, 2027, 10:00–14:00 EST",
    "Sun, Mar 14, 2027, 10:00–14:00 EDT",
  ]);
  await shot("03-replaced");
  await save();
  const t = (await terms("happy-hour")).terms;
  assert.deepEqual(t.intervals, cli({ ...brunch, start: t.startsAt, until: t.endsAt }));
  assert.deepEqual(t.intervals, [
    { start: "2027-03-13T15:00:00Z", end: "2027-03-13T19:00:00Z" },
    { start: "2027-03-14T14:00:00Z", end: "2027-03-14T18:00:00Z" },
  ]);
  assert.equal(t.reward.percent, "25");
  assert.deepEqual(problems, []);
});

test("an overnight window and a refused one: errors next to the fields", async () => {
  await edit("happy-hour");
  await waitReadyToSave();
  // The weekend window is back in its controls.
  assert.equal(await page.isChecked("#f-day-sat"), true);
  assert.equal(await page.inputValue("#f-window-from"), "10:00");
  // To at or before From: the window ends the next day, as the CLI reads it.
  await page.getByLabel("Sat", { exact: true }).uncheck();
  await page.getByLabel("Sun", { exact: true }).uncheck();
  await page.getByLabel("Fri", { exact: true }).check();
  await page.getByLabel("From (time)", { exact: true }).fill("22:00");
  await page.getByLabel("To (time)", { exact: true }).fill("02:00");
  await page.waitForFunction(() => document.querySelector("#rv-windows li")?.textContent.startsWith("Fri, Mar 12"));
  const listed = await panelWindows();
  assert.deepEqual(listed.map((w) => w.text), [
    "Fri, Mar 12, 2027, 22:00 – Sat, Mar 13, 2027, 02:00 EST",
    "Fri, Mar 19, 2027, 22:00 – Sat, Mar 20, 2027, 00:00 EDT",
  ]);
  const t = JSON.parse(await page.textContent("#terms-json"));
  assert.deepEqual(t.intervals, cli({ days: ["fri"], from: "22:00", to: "02:00", start: t.startsAt, until: t.endsAt }));

  // A range of more than 2,000 windows is the core's refusal, shown at the last day.
  await page.getByLabel("Fri", { exact: true }).uncheck();
  await page.getByLabel("Last day", { exact: true }).fill("2033-12-31");
  await page.waitForSelector("#f-end-date-error:not([hidden])");
  assert.equal(await words("#f-end-date-error"), "more than 2000 intervals; shorten the range");
  assert.equal(await page.isDisabled("#save"), true);
  // The From field without a To: asked for next to it.
  await page.getByLabel("Last day", { exact: true }).fill("2027-03-19");
  await page.getByLabel("To (time)", { exact: true }).fill("");
  await page.waitForSelector("#f-window-to-error:not([hidden])");
  assert.equal(await words("#f-window-to-error"), "give the time the window closes");
  await shot("04-errors");
  assert.deepEqual(problems, []);
});

test("typed terms: a reload asks first; saved terms leave without asking", async () => {
  await edit("happy-hour");
  await waitReadyToSave();
  dialogs.length = 0;
  await page.getByLabel("Name", { exact: true }).pressSequentially(" (renamed)");
  await page.reload();
  await page.waitForSelector("#editor:not([hidden])");
  assert.deepEqual(dialogs, ["beforeunload"]);
  dialogs.length = 0;
  await page.getByLabel("Name", { exact: true }).pressSequentially(" (renamed)");
  await save();
  assert.deepEqual(dialogs, [], "a saved draft leaves without a prompt");
  assert.match((await terms("happy-hour")).terms.name, /\(renamed\)/);
  assert.deepEqual(problems, []);
});

test("a start time the clocks skip (02:30 on the night summer time begins) is named in the schedule's words", async () => {
  await page.goto(`${url}/promotions/new?template=blank`);
  await page.waitForSelector("#editor:not([hidden])");
  dialogs.length = 0;
  await page.getByLabel("Start date", { exact: true }).fill("2027-03-14");
  await page.getByLabel("Start time", { exact: true }).fill("02:30");
  await page.waitForFunction(() => document.querySelector("#schedule-words")?.textContent.includes("does not exist"));
  const said = await words("#schedule-words");
  assert.match(said, /02:30 does not exist on 2027-03-14 in America\/New_York \(the clocks go forward\): it is read as 03:30\./);
  assert.match(said, /startsAt 2027-03-14T07:30:00Z/);
  // A time that exists says nothing of it.
  await page.getByLabel("Start time", { exact: true }).fill("04:30");
  await page.waitForFunction(() => !document.querySelector("#schedule-words")?.textContent.includes("does not exist"));
  assert.match(await words("#schedule-words"), /startsAt 2027-03-14T08:30:00Z/);
  assert.deepEqual(problems, []);
});

test("a session that ends while terms are typed: saving says so and keeps them; signed in again (another tab), the same Save works", async () => {
  await edit("happy-hour");
  await waitReadyToSave();
  await page.getByLabel("Name", { exact: true }).fill("Happy hour, after a new sign-in");
  await context.clearCookies();
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.waitForSelector("#sign-in-again");
  assert.match(await words("#alert"), /Your session has ended .* Nothing was saved, and your terms are still on this page\./);
  assert.match(page.url(), /\/promotions\/happy-hour\/edit$/, "still on the editor");
  assert.equal(await page.inputValue("#f-name"), "Happy hour, after a new sign-in");
  // Signed in again in another tab of the same browser (the key is still enrolled there).
  const other = await context.newPage();
  await other.goto(`${url}/sign-in`);
  await other.click('button:has-text("Sign in as marketing-1")');
  await other.waitForURL(`${url}/`);
  await other.close();
  await save();
  assert.equal((await terms("happy-hour")).terms.name, "Happy hour, after a new sign-in");
  assert.deepEqual(problems, []);
});
