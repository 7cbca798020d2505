// The edge tests' and benchmark's fixtures: signed bundles, keys and this build's native answers,
// written to target/tmp/edge by `cargo test -p promoseal-edge-worker --test fixtures`
// (edge-worker/tests/fixtures.rs).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { target } from "@promoseal/testing/paths";

export const fixtureDir = join(target, "tmp", "edge");

export function fixtures() {
  return JSON.parse(readFileSync(join(fixtureDir, "fixtures.json"), "utf8"));
}

/** The ledger's trust root, bundles and code secret, for `startLedger`. */
export const fixtureLedger = {
  root: join(fixtureDir, "root.env"),
  bundles: [join(fixtureDir, "shop-v1.bundle"), join(fixtureDir, "shop-v2.bundle")],
  secretFile: join(fixtureDir, "code.secret"),
};

/** The vars every test Worker gets, from the fixtures. */
export function workerVars(fx, ledgerUrl, extra = {}) {
  return {
    TRUST_ROOT: fx.root,
    CODE_SECRET: fx.codeSecret,
    EDGE_KEY_ID: fx.edgeKeyId,
    EDGE_SIGNING_KEY: fx.edgeSeed,
    ADMIN_TOKEN: "test-admin-token",
    LEDGER_URL: ledgerUrl,
    DEFAULT_BUNDLE: "shop",
    ALLOWED_ORIGINS: "http://shop.test",
    ...extra,
  };
}
