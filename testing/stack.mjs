// Starts the real parts: the ledger binary on SQLite, the built edge Worker in workerd (through
// `wrangler dev --local`, with its own persistence folder for KV and Durable Objects) and the
// storefront server (web-demo/serve.mjs); and all three at once as the demo, the storefront's
// tests and its benchmark run them (`startStack`). Nothing here reaches beyond 127.0.0.1.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repo, target } from "./paths.mjs";
import { freePort, launch, stop, tempDir, waitFor } from "./process.mjs";

const edgeDir = join(repo, "edge-worker");
const toolEnv = {
  ...process.env,
  PATH: `${join(repo, "node_modules/.bin")}:${process.env.HOME}/.cargo/bin:${process.env.PATH}`,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CI: "true",
};

/** The ledger binary (target/release/ledger) on a SQLite file. */
export async function startLedger({ port, db, root, bundles, secretFile }) {
  const bin = join(target, "release", "ledger");
  const args = [
    "serve", "--database-url", `sqlite://${db}`, "--listen", `127.0.0.1:${port}`, "--root", root,
    ...bundles.flatMap((b) => ["--bundle", b]), "--code-secret-file", secretFile,
  ];
  const child = launch(bin, args, { env: process.env });
  await waitFor(`http://127.0.0.1:${port}/healthz`, child, "ledger", 30);
  return { url: `http://127.0.0.1:${port}`, stop: () => stop(child, "SIGTERM"), output: child.output };
}

/** The storefront's server (web-demo/serve.mjs). */
async function startStorefront({ port, edgeUrl, root, shopKey, promoseal }) {
  const args = [join(repo, "web-demo/serve.mjs"), "--port", String(port), "--edge", edgeUrl, "--root", root,
    "--shop-key", shopKey, ...(promoseal ? ["--promoseal", promoseal] : [])];
  const child = launch(process.execPath, args, { env: process.env });
  await waitFor(`http://127.0.0.1:${port}/`, child, "storefront", 30);
  return { url: `http://127.0.0.1:${port}`, stop: () => stop(child, "SIGTERM"), output: child.output };
}

/** Writes KV values (`{key: Buffer|string}`) into the Worker's local persistence. */
export function kvPut(persist, entries) {
  const file = join(persist, `kv-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const list = Object.entries(entries).map(([key, value]) => ({
    key, value: Buffer.from(value).toString("base64"), base64: true,
  }));
  writeFileSync(file, JSON.stringify(list));
  execFileSync("wrangler", ["kv", "bulk", "put", file, "--binding", "BUNDLES", "--local", "--persist-to", persist],
    { cwd: edgeDir, env: toolEnv, stdio: "pipe" });
}

/**
 * The built Worker (edge-worker/build, cargo xtask build edge) under `wrangler dev --local`
 * (workerd). `vars` go in through an env file (secrets included, as `wrangler secret` would set them).
 */
export async function startWorker({ port, persist, vars }) {
  const envFile = join(persist, "worker.env");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  // wrangler picks workerd's own sockets' ports itself: one can lose a race with a port another
  // process (or `freePort`) just took, and workerd then exits with "Address already in use".
  // That is the harness's luck, not the Worker's: start again, up to three times.
  for (let attempt = 1; ; attempt++) {
    const inspector = await freePort();
    const args = [
      "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false", "--log-level", "log",
    ];
    const started = Date.now();
    const child = launch(join(repo, "node_modules/.bin/wrangler"), args, { cwd: edgeDir, env: toolEnv });
    try {
      await waitFor(`http://127.0.0.1:${port}/v1/ping`, child, "worker", 120);
    } catch (e) {
      await stop(child);
      if (attempt < 3 && /Address already in use/.test(String(e?.message))) continue;
      throw e;
    }
    return {
      url: `http://127.0.0.1:${port}`,
      startMs: Date.now() - started,
      stop: () => stop(child),
      output: child.output,
    };
  }
}

/**
 * The promotions console (target/release/console) on the project the walkthrough signed, with
 * the server's release key and the code secret, publishing to the ledger and to the Worker's
 * local KV (wrangler), on a SQLite file.
 */
export async function startConsole({ port, project, db, releaseKey, codeSecret, ledgerUrl, persist, edgeUrl }) {
  const bin = join(target, "release", "console");
  const origin = `http://127.0.0.1:${port}`;
  const args = [
    "--listen", `127.0.0.1:${port}`, "--project", project, "--database-url", `sqlite://${db}`,
    "--origin", origin, "--release-key", releaseKey, "--code-secret", codeSecret,
    "--ledger-url", ledgerUrl, "--edge-kv", `local:${persist}`, "--edge-url", edgeUrl,
    "--wrangler", join(repo, "node_modules/.bin/wrangler"),
    "--wrangler-config", join(edgeDir, "wrangler.toml"),
    "--wasm-dir", join(repo, "evaluator-wasm/npm/dist/authoring"),
    // The demo signs in the same people again and again from one address.
    "--sign-in-per-minute", "60",
  ];
  const child = launch(bin, args, { env: toolEnv });
  await waitFor(`${origin}/healthz`, child, "console", 30);
  return { url: origin, stop: () => stop(child, "SIGTERM"), output: child.output };
}

/** What scripts/walkthrough.sh signed (examples/shop): PROMOSEAL_WORK, by default target/web-test. */
const work = process.env.PROMOSEAL_WORK ?? join(target, "web-test");

/**
 * The whole stack on what the walkthrough signed into `work`: the ledger, the edge Worker with
 * its local KV seeded with the edge and storefront bundles, and the storefront server, on the
 * given ports or free ones; with `console: true`, the promotions console too (the Worker then
 * looks at KV every second, so a release reaches it at once).
 */
export async function startStack(ports = {}, { console: withConsole = false } = {}) {
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
      ...(withConsole ? { BUNDLE_REFRESH_SECONDS: "1" } : {}),
    },
  });
  const web = await startStorefront({
    port: webPort, edgeUrl: worker.url, root: join(shop, "root.env"), shopKey: join(work, "keys/shop-1.key"),
  });
  let consoleServer = null;
  if (withConsole) {
    const consoleDir = tempDir("web-console");
    dirs.push(consoleDir);
    consoleServer = await startConsole({
      port: ports.console ?? await freePort(), project: shop, db: join(consoleDir, "console.db"),
      releaseKey: join(work, "keys/release-1.key"), codeSecret: join(work, "keys/codes.secret"),
      ledgerUrl: ledger.url, persist, edgeUrl: worker.url,
    });
  }
  return {
    ledger, worker, web, console: consoleServer, work,
    springCodes: readFileSync(join(work, "spring-codes.csv"), "utf8").trim().split("\n").slice(1),
    stop: async () => {
      if (consoleServer) await consoleServer.stop();
      await web.stop();
      await worker.stop();
      await ledger.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
