// The whole demo stack for the browser tests and the storefront benchmark: the ledger, the edge
// Worker in workerd with local KV seeded, and the storefront server, serving what
// scripts/walkthrough.sh signed into PROMOSEAL_WORK (examples/shop). Plus Debian's Chromium,
// driven by playwright-core.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  freePort, kvPut, repo, startLedger, startStorefront, startWorker, target, tempDir,
} from "../../edge-worker/test/harness.mjs";

export const work = process.env.PROMOSEAL_WORK ?? join(target, "web-test");
export const screenshots = join(target, "web-demo", "screenshots");

export async function startStack() {
  const shop = join(work, "shop");
  const ledgerPort = await freePort();
  const ledger = await startLedger({
    port: ledgerPort, db: join(tempDir("web-ledger"), "ledger.db"), root: join(shop, "root.env"),
    bundles: [join(shop, "published/edge.bundle")], secretFile: join(work, "keys/codes.secret"),
  });
  const persist = tempDir("web-edge");
  kvPut(persist, {
    "edge/demo-shop": readFileSync(join(shop, "published/edge.bundle")),
    "storefront/demo-shop": readFileSync(join(shop, "published/storefront.bundle")),
  });
  const webPort = await freePort();
  const edgeKey = JSON.parse(readFileSync(join(work, "keys/edge-1.key"), "utf8"));
  const worker = await startWorker({
    port: await freePort(), persist,
    vars: {
      TRUST_ROOT: readFileSync(join(shop, "root.env")).toString("base64"),
      CODE_SECRET: readFileSync(join(work, "keys/codes.secret"), "utf8").trim(),
      EDGE_KEY_ID: edgeKey.keyId,
      EDGE_SIGNING_KEY: edgeKey.seed,
      LEDGER_URL: ledger.url,
      DEFAULT_BUNDLE: "demo-shop",
      ALLOWED_ORIGINS: `http://127.0.0.1:${webPort}`,
    },
  });
  const web = await startStorefront({ port: webPort, edgeUrl: worker.url, root: join(shop, "root.env") });
  return {
    ledger, worker, web,
    springCodes: readFileSync(join(work, "spring-codes.csv"), "utf8").trim().split("\n").slice(1),
    stop: async () => {
      await web.stop();
      await worker.stop();
      await ledger.stop();
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

export { repo };
