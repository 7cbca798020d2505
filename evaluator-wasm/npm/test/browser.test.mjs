// The web build of the package in real headless Chromium (Debian's, driven by playwright-core):
// loaded as a storefront loads it, it gives native's verdict on every signing vector and native's
// bytes on the code-grant flow and on a subset of the corpus (the first cases of every folder).
// No Chromium is a failure, not a skip: scripts/setup.sh installs it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

import { launchChromium } from "@promoseal/testing/chromium";
import { nativeCorpus, nativeResults, readVector, vectorManifest } from "@promoseal/testing/corpus";

const native = nativeResults();
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };

let server;
let browser;
let origin;

before(async () => {
  const web = fileURLToPath(new URL("../dist/web", import.meta.url));
  const tests = dirname(fileURLToPath(import.meta.url));
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end("<!doctype html><title>promoseal wasm</title>");
    }
    const root = path.startsWith("/test/") ? tests : web;
    const file = join(root, path.replace(/^\/test\//, "/"));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("in Chromium: native's verdicts and bytes", async () => {
  const vectors = vectorManifest().vectors;
  const files = {};
  for (const v of vectors) {
    for (const f of [v.root, v.bundle, ...v.rotations].filter(Boolean)) {
      files[f] = readVector(f).toString("base64");
    }
  }
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(origin);
  const work = {
    corpus: nativeCorpus({ perFolder: 2 }), // the first two cases of every corpus folder
    vectors,
    natives: native.filter((r) => r.kind === "vector"),
    grants: native.filter((r) => r.kind === "grant"),
    files,
  };
  const report = await page.evaluate(async (work) => {
    const m = await import("/promoseal_evaluator.js");
    const { answer, openVector } = await import("/test/shared.mjs");
    await m.default();
    const bytes = (name) => Uint8Array.from(atob(work.files[name]), (c) => c.charCodeAt(0));
    // Byte for byte: the evaluation's JSON text, or the error's code and message.
    const same = (a, b) => a.ok === b.ok && a.json === b.json && a.code === b.code && a.message === b.message;
    const mismatches = [];
    for (const r of work.corpus) {
      const opened = m.Engine.openUnverified(r.bundle);
      const got = opened.ok ? answer(opened.value.evaluateJson(r.input)) : answer(opened);
      if (!same(got, r.result)) mismatches.push(`corpus ${r.case}`);
    }
    for (const v of work.vectors) {
      const outcome = openVector(m, v, bytes);
      const verdict = outcome.ok ? "valid" : outcome.error.reason;
      const n = work.natives.find((x) => x.name === v.name);
      if (verdict !== v.expect || verdict !== n.verdict) mismatches.push(`vector ${v.name}: ${verdict}`);
      if (n.input && outcome.ok && !same(answer(outcome.value.evaluateJson(n.input)), n.result)) {
        mismatches.push(`vector ${v.name}: evaluation`);
      }
    }
    for (const g of work.grants) {
      const engine = m.Engine.open(bytes(g.bundle), bytes(g.root), { now: g.now }).value;
      if (!same(answer(engine.evaluateJson(g.input)), g.result)) mismatches.push(`grant ${g.subject}`);
    }
    // The web build's glue carries the same guard as the Node build's (freed.js).
    const freed = m.Engine.openUnverified(work.corpus[0].bundle).value;
    const id = freed.bundleId;
    freed.free();
    freed.free();
    const after = freed.evaluateJson(work.corpus[0].input);
    if (after.ok || after.error.code !== "freed" || freed.bundleId !== id) mismatches.push("freed engine");
    return { mismatches, corpus: work.corpus.length, vectors: work.vectors.length, version: m.evaluatorVersion() };
  }, work);
  await page.close();
  assert.deepEqual(errors, []);
  assert.deepEqual(report.mismatches, []);
  assert.ok(report.corpus >= 20, `only ${report.corpus} corpus cases ran`);
  assert.equal(report.vectors, vectors.length);
  assert.match(report.version, /^\d+\.\d+\.\d+$/);
});
