// The wasm package (nodejs target) against native: every corpus case, every signing vector and a
// code-grant evaluation must give byte-identical answers. The native answers, with the exact
// bytes they were computed from, come from the evaluator's integration test
// `conformance::native_results_for_other_hosts` (`cargo xtask gen` writes them; the hosts tier runs it first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { corpusFiles, nativeCorpus, nativeResults, readVector, vectorManifest } from "@promoseal/testing/corpus";
import { repo } from "@promoseal/testing/paths";
import { Engine, evaluatorVersion, inspectRoot } from "./host.mjs";
import { answer, openVector } from "./shared.mjs";

const native = nativeResults();

test("the native results cover the whole corpus", () => {
  const cases = nativeCorpus().map((r) => r.case);
  assert.deepEqual(cases.slice().sort(), corpusFiles());
  assert.ok(cases.length >= 150, `only ${cases.length} corpus cases`);
});

test("every corpus case: byte-identical to native", () => {
  let compared = 0;
  for (const r of nativeCorpus()) {
    const opened = Engine.openUnverified(r.bundle);
    const got = opened.ok ? answer(opened.value.evaluateJson(r.input)) : answer(opened);
    assert.deepEqual(got, r.result, r.case);
    if (r.result.ok) {
      // The object form is the same evaluation, parsed.
      const object = opened.value.evaluate(JSON.parse(r.input));
      assert.equal(object.ok, true, r.case);
      const full = JSON.parse(r.result.json);
      assert.deepEqual(object.value, full, r.case);
      // The lighter views change notApplied only: "cart" keeps a subsequence, "none" nothing.
      const cart = opened.value.evaluate(JSON.parse(r.input), { notApplied: "cart" }).value;
      const none = opened.value.evaluate(r.input, { notApplied: "none" }).value;
      assert.deepEqual({ ...cart, notApplied: full.notApplied }, full, r.case);
      assert.deepEqual({ ...none, notApplied: full.notApplied }, full, r.case);
      assert.deepEqual(none.notApplied, [], r.case);
      // evaluateJson takes the same options: the text of the same view.
      assert.deepEqual(JSON.parse(opened.value.evaluateJson(r.input, { notApplied: "cart" }).value), cart, r.case);
      assert.equal(opened.value.evaluateJson(r.input, { notApplied: "all" }).value, r.result.json, r.case);
      let i = 0;
      for (const n of cart.notApplied) {
        while (i < full.notApplied.length && JSON.stringify(full.notApplied[i]) !== JSON.stringify(n)) i++;
        assert.ok(i++ < full.notApplied.length, `${r.case}: ${JSON.stringify(n)} is not in the full list`);
      }
      const untargeted = full.notApplied.filter((n) => n.reason.code === "noEligibleItems").length;
      assert.ok(cart.notApplied.length >= full.notApplied.length - untargeted, r.case);
    }
    opened.value?.free();
    compared++;
  }
  assert.ok(compared >= 150);
});

test("every signing vector: the manifest's verdict, and native's evaluation", () => {
  const manifest = vectorManifest();
  const natives = new Map(native.filter((r) => r.kind === "vector").map((r) => [r.name, r]));
  assert.equal(natives.size, manifest.vectors.length);
  for (const v of manifest.vectors) {
    const outcome = openVector({ Engine, inspectRoot }, v, readVector);
    const verdict = outcome.ok ? "valid" : outcome.error.reason;
    assert.equal(verdict, v.expect, v.name);
    const n = natives.get(v.name);
    assert.equal(verdict, n.verdict, v.name);
    if (!outcome.ok) {
      // Publicly one answer per subject; the reason is for logs only.
      assert.match(outcome.error.message, /^invalid (bundle|trust root)$/, v.name);
      assert.ok(["invalidBundle", "invalidTrustRoot"].includes(outcome.error.code), v.name);
    }
    if (n.input) {
      assert.equal(outcome.value.verified, true);
      assert.deepEqual(answer(outcome.value.evaluateJson(n.input)), n.result, v.name);
    }
  }
});

test("a code grant unlocks the locked promotion for its subject only, as native", () => {
  const grants = native.filter((r) => r.kind === "grant");
  assert.equal(grants.length, 2);
  for (const g of grants) {
    const opened = Engine.open(readVector(g.bundle), readVector(g.root), { now: g.now });
    assert.equal(opened.ok, true);
    const engine = opened.value;
    assert.deepEqual(answer(engine.evaluateJson(g.input)), g.result, g.subject);
    const check = engine.checkGrant(g.grant, { now: g.now, subject: g.subject });
    if (g.subject === "session-1") {
      assert.equal(check.ok, true);
      assert.equal(check.value.promotion, "vip-shoes");
      assert.equal(check.value.audience, "storefront");
    } else {
      assert.deepEqual(
        [check.ok, check.error.code, check.error.message, check.error.reason],
        [false, "invalidGrant", "invalid grant", "mismatch"],
      );
    }
  }
});

test("the engine reports its bundle and what to persist against rollback", () => {
  const opened = Engine.open(readVector("valid.env"), readVector("root-v1.env"), {
    audience: "edge",
    now: "2026-06-01T00:00:00Z",
  });
  assert.equal(opened.ok, true);
  const e = opened.value;
  assert.equal(e.bundleId, "vectors-shop");
  assert.equal(e.audience, "edge");
  assert.equal(e.currency, "USD");
  assert.equal(typeof e.version, "number");
  assert.equal(e.verified, true);
  assert.match(e.accepted.digest, /^[0-9a-f]{64}$/);
  assert.equal(e.accepted.version, e.version);
  // Persisted and passed back, the same bytes load again; a higher version refuses them.
  const again = Engine.open(readVector("valid.env"), readVector("root-v1.env"), {
    audience: "edge",
    now: "2026-06-01T00:00:00Z",
    highestAccepted: e.accepted,
  });
  assert.equal(again.ok, true);
  const rolledBack = Engine.open(readVector("valid.env"), readVector("root-v1.env"), {
    audience: "edge",
    now: "2026-06-01T00:00:00Z",
    highestAccepted: { version: e.version + 1, digest: e.accepted.digest },
  });
  assert.equal(rolledBack.error.reason, "rollback");
  const unverified = Engine.openUnverified(readFileSync(join(repo, "examples/bundle.json")));
  assert.equal(unverified.ok, true);
  assert.equal(unverified.value.verified, false);
  assert.equal(unverified.value.accepted, undefined);
});

test("the package version is the crate's", () => {
  const cargo = readFileSync(join(repo, "Cargo.toml"), "utf8");
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url))));
  assert.equal(evaluatorVersion(), /\nversion = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(pkg.version, evaluatorVersion());
});
