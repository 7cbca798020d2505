// Bad input of every kind is an answer `{ok: false, error}` naming what is wrong: never an
// exception, never a trap (a trap would poison the module for every later call).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { readVector as vector } from "@promoseal/testing/corpus";
import { repo } from "@promoseal/testing/paths";
import { Engine, inspectRoot } from "./host.mjs";

const NOW = "2026-06-01T00:00:00Z";
const payload = readFileSync(join(repo, "examples/bundle.json"));
const cartInput = JSON.parse(readFileSync(join(repo, "examples/cart.json")));

function refused(outcome, code, fragment) {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  assert.equal(outcome.error.code, code, outcome.error.message);
  if (fragment) assert.ok(outcome.error.message.includes(fragment), outcome.error.message);
  return outcome.error;
}

test("wrong argument types are refused by name", () => {
  refused(Engine.open(undefined, undefined), "invalidArgument", "bundle: expected a Uint8Array");
  refused(Engine.open(vector("valid.env"), 42), "invalidArgument", "root: expected");
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), 7),
    "invalidArgument",
    "options: expected an object",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), { audience: "shop" }),
    "invalidArgument",
    "unknown variant `shop`",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), { audeince: "edge" }),
    "invalidArgument",
    "unknown field `audeince`, expected one of `audience`, `now`",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), { maxPayload: "big" }),
    "invalidArgument",
    "options: invalid type",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), { now: "yesterday" }),
    "invalidArgument",
    "not an RFC 3339 instant",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), { rotations: "root-v2.env" }),
    "invalidArgument",
    "options.rotations: expected an array",
  );
  refused(
    Engine.open(vector("valid.env"), vector("root-v1.env"), {
      highestAccepted: { version: 1, digest: "zz" },
    }),
    "invalidArgument",
    "highestAccepted.digest",
  );
  refused(Engine.openUnverified(null), "invalidArgument", "payload: expected");
  const engine = Engine.openUnverified(payload).value;
  refused(engine.evaluate(cartInput, { notApplied: "some" }), "invalidArgument", "unknown variant `some`");
  refused(engine.evaluate(cartInput, { explain: true }), "invalidArgument", "unknown field `explain`");
  refused(engine.evaluateJson(cartInput, { notApplied: "some" }), "invalidArgument", "unknown variant `some`");
  refused(inspectRoot({}), "invalidArgument", "root: expected");
});

test("bad bundles, roots and inputs name the problem", () => {
  const e = refused(Engine.open(payload, vector("root-v1.env")), "invalidBundle");
  assert.equal(e.message, "invalid bundle");
  assert.equal(e.reason, "malformed");
  refused(Engine.open(vector("valid.env"), payload), "invalidTrustRoot");
  refused(Engine.openUnverified("{"), "invalidBundle", "EOF while parsing");
  const engine = Engine.openUnverified(payload).value;
  const bad = structuredClone(cartInput);
  bad.cart.lines[0].quantity = 0;
  const err = refused(engine.evaluate(bad), "invalidInput", "cart.lines[0].quantity");
  assert.equal(err.path, "cart.lines[0].quantity");
  bad.cart.lines[0].quantity = 1;
  bad.cart.lines[0].unitPrice = 25;
  refused(engine.evaluate(bad), "invalidInput", "decimal string");
  bad.cart.currency = "EUR";
  bad.cart.lines[0].unitPrice = "25.00";
  refused(engine.evaluate(bad), "evaluationFailed", "does not match bundle currency");
});

test("inputs no JSON can hold are refused, and the engine keeps working", () => {
  const engine = Engine.openUnverified(payload).value;
  const circular = { cart: {} };
  circular.cart.self = circular;
  const cases = [
    undefined,
    null,
    42,
    true,
    Symbol("cart"),
    10n,
    { big: 10n },
    circular,
    () => 1,
    new Uint8Array([0xff, 0xfe, 0x00]),
    "",
    "[]",
    "x".repeat(1 << 20),
  ];
  for (const input of cases) {
    for (const call of ["evaluate", "evaluateJson", "unlocks"]) {
      const outcome = engine[call](input);
      assert.equal(outcome.ok, false, `${call}(${String(input).slice(0, 20)})`);
      assert.ok(["invalidInput", "invalidArgument"].includes(outcome.error.code));
    }
  }
  for (const token of [undefined, 5, "", "a.b.c", "x".repeat(5000)]) {
    refused(engine.checkGrant(token), token === undefined || token === 5 ? "invalidArgument" : "invalidGrant");
  }
  assert.equal(engine.evaluate(cartInput).ok, true);
});

test("options that throw when read are refused, not thrown", () => {
  const boom = () => {
    throw new Error("boom");
  };
  const root = vector("root-v1.env");
  const cases = [
    () => Engine.open(vector("valid.env"), root, { get now() { return boom(); } }),
    () => Engine.open(vector("valid.env"), root, { highestAccepted: { get version() { return boom(); } } }),
    () => Engine.open(vector("valid.env"), root, { get rotations() { return boom(); } }),
    () => Engine.open(vector("valid.env"), root, new Proxy({}, { ownKeys: boom })),
    () => Engine.open(vector("valid.env"), root, { rotations: new Proxy([], { get: boom }) }),
    () => inspectRoot(root, new Proxy([], { get: boom })),
  ];
  const engine = Engine.openUnverified(payload).value;
  cases.push(
    () => engine.evaluate(cartInput, { get notApplied() { return boom(); } }),
    () => engine.evaluateJson(cartInput, { toJSON: boom }),
    () => engine.checkGrant("a.b.c", { get now() { return boom(); } }),
  );
  for (const call of cases) {
    const error = refused(call(), "invalidArgument", "cannot be read");
    assert.ok(/^(options|rotations|options\.rotations)\b/.test(error.message), error.message);
  }
  assert.equal(engine.evaluate(cartInput).ok, true);
});

test("random bytes never throw", () => {
  // A fixed-seed generator: the same bytes on every run.
  let s = 0x9e3779b9;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const valid = vector("valid.env");
  const root = vector("root-v1.env");
  const engine = Engine.openUnverified(payload).value;
  for (let i = 0; i < 300; i++) {
    const mutated = Uint8Array.from(valid);
    for (let k = 0; k < 4; k++) mutated[(next() << 8 | next()) % mutated.length] = next();
    const random = Uint8Array.from({ length: next() * 4 }, next);
    assert.equal(Engine.open(mutated, root, { audience: "edge", now: NOW }).ok, false);
    assert.equal(Engine.open(random, random).ok, false);
    assert.equal(Engine.openUnverified(random).ok, false);
    assert.equal(engine.evaluateJson(random).ok, false);
  }
});

test("an Engine used after free() answers, and keeps what it told about its bundle", () => {
  const engine = Engine.openUnverified(payload).value;
  const facts = {
    bundleId: engine.bundleId,
    version: engine.version,
    audience: engine.audience,
    currency: engine.currency,
    issuedAt: engine.issuedAt,
    expiresAt: engine.expiresAt,
    promotionCount: engine.promotionCount,
    verified: engine.verified,
    accepted: engine.accepted,
  };
  assert.equal(engine.evaluate(cartInput).ok, true);
  engine.free();
  engine.free();
  engine[Symbol.dispose]?.();
  for (const outcome of [
    engine.evaluate(cartInput),
    engine.evaluateJson(cartInput),
    engine.unlocks(cartInput),
    engine.checkGrant("a.b.c"),
  ]) {
    refused(outcome, "freed", "this Engine was freed");
  }
  for (const [name, value] of Object.entries(facts)) assert.deepEqual(engine[name], value, name);
  assert.equal(facts.promotionCount > 0 && facts.bundleId.length > 0, true);
  // Another Engine opened after is unaffected.
  const again = Engine.openUnverified(payload).value;
  assert.equal(again.evaluate(cartInput).ok, true);
  again.free();
});
