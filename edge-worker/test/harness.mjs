// Starts the real parts the edge tests and benchmark run against: the built Worker in workerd
// (through `wrangler dev --local`, with its own persistence folder for KV and Durable Objects)
// and the ledger binary on SQLite. Nothing here reaches beyond 127.0.0.1.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const edgeDir = join(repo, "edge-worker");
export const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");
export const fixtureDir = join(target, "tmp", "edge");

export function fixtures() {
  return JSON.parse(readFileSync(join(fixtureDir, "fixtures.json"), "utf8"));
}

const toolEnv = {
  ...process.env,
  PATH: `${join(repo, "node_modules/.bin")}:${process.env.HOME}/.cargo/bin:${process.env.PATH}`,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CI: "true",
};

export function tempDir(tag) {
  return mkdtempSync(join(tmpdir(), `promoseal-${tag}-`));
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url, child, what, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${child.output()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within ${seconds} s:\n${child.output()}`);
}

function launch(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (d) => {
    log += d;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.output = () => log;
  return child;
}

async function stop(child, signal = "SIGINT") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(timer);
}

/** The ledger binary on a SQLite file; by default with the fixture root, bundles and secret. */
export async function startLedger({
  port, db, root = join(fixtureDir, "root.env"),
  bundles = [join(fixtureDir, "shop-v1.bundle"), join(fixtureDir, "shop-v2.bundle")],
  secretFile = join(fixtureDir, "code.secret"),
}) {
  const bin = join(target, "release", "ledger");
  const args = [
    "serve", "--database-url", `sqlite://${db}`, "--listen", `127.0.0.1:${port}`, "--root", root,
    ...bundles.flatMap((b) => ["--bundle", b]), "--code-secret-file", secretFile,
  ];
  const child = launch(bin, args, { env: process.env });
  await waitFor(`http://127.0.0.1:${port}/healthz`, child, "ledger", 30);
  return { url: `http://127.0.0.1:${port}`, stop: () => stop(child, "SIGTERM"), output: child.output };
}

/** The storefront's static server (web-demo/serve.mjs). */
export async function startStorefront({ port, edgeUrl, root, shopKey, promoseal }) {
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
 * The built Worker under `wrangler dev --local` (workerd). `vars` go in through an env file
 * (secrets included, as `wrangler secret` would set them).
 */
export async function startWorker({ port, persist, vars }) {
  const envFile = join(persist, "worker.env");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  const inspector = await freePort();
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
    "--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false", "--log-level", "log",
  ];
  const started = Date.now();
  const child = launch(join(repo, "node_modules/.bin/wrangler"), args, { cwd: edgeDir, env: toolEnv });
  await waitFor(`http://127.0.0.1:${port}/v1/ping`, child, "worker", 120);
  return {
    url: `http://127.0.0.1:${port}`,
    startMs: Date.now() - started,
    stop: () => stop(child),
    output: child.output,
  };
}

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
