// Shared by the Node tests and the Chromium page (served as /test/shared.mjs): how a signing
// vector is opened through the package's API, and an outcome in the native results' shape.

/** Opens one manifest entry with the module `m`; `read(name)` gives a vector file's bytes. */
export function openVector(m, v, read) {
  const rotations = v.rotations.map(read);
  if (!v.bundle) return m.inspectRoot(read(v.root), rotations);
  const options = { audience: v.audience, now: v.now, rotations };
  if (v.highestAccepted) options.highestAccepted = v.highestAccepted;
  if (v.maxPayload !== null) options.maxPayload = v.maxPayload;
  return m.Engine.open(read(v.bundle), read(v.root), options);
}

/** The wasm answer in the native result's shape. */
export function answer(outcome) {
  return outcome.ok
    ? { ok: true, json: outcome.value }
    : { ok: false, code: outcome.error.code, message: outcome.error.message };
}
