// The whole stack, for the demo (demo.mjs), the browser tests and the storefront benchmark: the
// ledger on SQLite, the edge Worker in workerd with local KV seeded, and the storefront server,
// serving what scripts/walkthrough.sh signed into PROMOSEAL_WORK (examples/shop). Plus Debian's
// Chromium, driven by playwright-core.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  freePort, kvPut, startLedger, startStorefront, startWorker, target, tempDir,
} from "../edge-worker/test/harness.mjs";

export const work = process.env.PROMOSEAL_WORK ?? join(target, "web-test");
export const screenshots = join(target, "web-demo", "screenshots");

/** Starts the three parts, on the given ports or free ones. */
export async function startStack(ports = {}) {
  const shop = join(work, "shop");
  const dirs = [tempDir("web-ledger"), tempDir("web-edge")];
  const [ledgerDir, persist] = dirs;
  const ledger = await startLedger({
    port: ports.ledger ?? await freePort(), db: join(ledgerDir, "ledger.db"), root: join(shop, "root.env"),
    bundles: [join(shop, "published/edge.bundle")], secretFile: join(work, "keys/codes.secret"),
  });
  kvPut(persist, {
    "edge/demo-shop": readFileSync(join(shop, "published/edge.bundle")),
    "storefront/demo-shop": readFileSync(join(shop, "published/storefront.bundle")),
  });
  const webPort = ports.web ?? await freePort();
  const edgeKey = JSON.parse(readFileSync(join(work, "keys/edge-1.key"), "utf8"));
  const worker = await startWorker({
    port: ports.edge ?? await freePort(), persist,
    vars: {
      TRUST_ROOT: readFileSync(join(shop, "root.env")).toString("base64"),
      CODE_SECRET: readFileSync(join(work, "keys/codes.secret"), "utf8").trim(),
      EDGE_KEY_ID: edgeKey.keyId,
      EDGE_SIGNING_KEY: edgeKey.seed,
      LEDGER_URL: ledger.url,
      DEFAULT_BUNDLE: "demo-shop",
      ALLOWED_ORIGINS: `http://127.0.0.1:${webPort},http://localhost:${webPort}`,
      ADMIN_TOKEN: randomBytes(16).toString("hex"),
    },
  });
  const web = await startStorefront({
    port: webPort, edgeUrl: worker.url, root: join(shop, "root.env"), shopKey: join(work, "keys/shop-1.key"),
  });
  return {
    ledger, worker, web,
    springCodes: readFileSync(join(work, "spring-codes.csv"), "utf8").trim().split("\n").slice(1),
    stop: async () => {
      await web.stop();
      await worker.stop();
      await ledger.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

