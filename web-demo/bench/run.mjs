// The storefront's figures, in headless Chromium against the whole stack:
//  - a cart change → the updated preview: the page times each change from the click handler
//    to the redrawn cart (evaluate in wasm + DOM), and the benchmark also times click → the
//    next animation frame, as the shopper sees it; 200 changes on a cart of 5 lines;
//  - first-load weight: what the page fetches before it can preview (HTML, JS, CSS, catalog,
//    config, the evaluator's .wasm and glue, the signed storefront bundle), raw and gzip.
import { gzipSync } from "node:zlib";
import { launchChromium } from "@promoseal/testing/chromium";
import { startStack } from "@promoseal/testing/stack";

const changes = Number(process.env.BENCH_CHANGES ?? 200);
const stack = await startStack();
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const loaded = [];
  page.on("response", async (r) => {
    try {
      const body = await r.body();
      loaded.push({ url: r.url(), raw: body.length, gzip: gzipSync(body, { level: 9 }).length });
    } catch {}
  });
  const t0 = Date.now();
  await page.goto(stack.web.url);
  await page.waitForFunction(() => window.promoseal?.ready);
  const readyMs = Date.now() - t0;
  for (const sku of ["RUN-42", "SOCK-3", "TEE-5", "CAP-1", "JKT-1"]) await page.click(`#products li[data-sku="${sku}"] button`);

  const frames = await page.evaluate(async (n) => {
    window.promoseal.previewMs.length = 0;
    const plus = () => document.querySelector('#cart-lines li[data-sku="SOCK-3"] .plus');
    const minus = () => document.querySelector('#cart-lines li[data-sku="SOCK-3"] .minus');
    const out = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      (i % 2 ? minus() : plus()).click();
      await new Promise((r) => requestAnimationFrame(() => r()));
      out.push(performance.now() - t);
    }
    return out;
  }, changes);
  const inPage = await page.evaluate(() => window.promoseal.previewMs.slice());
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  };
  const sum = (k) => loaded.reduce((n, f) => n + f[k], 0);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`\nstorefront in headless Chromium, ${changes} cart changes (5-line cart, 10 promotions)`);
  console.log(`cart change → preview redrawn (evaluate + DOM, timed in the page): median ${pct(inPage, 50).toFixed(2)} ms, p95 ${pct(inPage, 95).toFixed(2)} ms`);
  console.log(`click → next frame: median ${pct(frames, 50).toFixed(2)} ms, p95 ${pct(frames, 95).toFixed(2)} ms`);
  console.log(`page ready (bundle verified) ${readyMs} ms after navigation`);
  console.log("| file | raw | gzip |\n|---|---|---|");
  for (const f of loaded) console.log(`| ${new URL(f.url).pathname} | ${kib(f.raw)} | ${kib(f.gzip)} |`);
  console.log(`| **first load** | ${kib(sum("raw"))} | ${kib(sum("gzip"))} |`);
} finally {
  await browser.close();
  await stack.stop();
}
