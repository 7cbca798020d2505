// The edge benchmark: the built Worker in workerd (wrangler dev --local) on this machine, driven
// by wrk. /v1/evaluate prices the evaluator benchmarks' 20-line cart against their 1,000-promotion
// shop (edge bundle `bench`); /v1/ping is an empty route of the same Worker, so the ratio
// between the two is the cost of Promoseal itself. Also: the first request after start (a cold
// isolate: instantiate, read KV, verify the bundle, ask its guard) and the Worker's size.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { freePort, tempDir } from "@promoseal/testing/process";
import { kvPut, startWorker } from "@promoseal/testing/stack";
import { fixtureDir, fixtures, workerVars } from "../test/fixtures.mjs";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const fx = fixtures();
const persist = tempDir("edge-bench");
kvPut(persist, { "edge/bench": readFileSync(join(fixtureDir, "bench.bundle")) });
const cart = readFileSync(join(fixtureDir, "cart-20.json"), "utf8");
const port = await freePort();
const worker = await startWorker({ port, persist, vars: workerVars(fx, "http://127.0.0.1:9", { DEFAULT_BUNDLE: "bench" }) });

async function timed(path, init) {
  const t = performance.now();
  const r = await fetch(worker.url + path, init);
  const body = await r.text();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.slice(0, 300)}`);
  return { ms: performance.now() - t, body };
}

try {
  const post = { method: "POST", headers: { "Content-Type": "application/json" }, body: cart };
  const first = await timed("/v1/evaluate", post);
  const second = await timed("/v1/evaluate", post);
  const evaluation = JSON.parse(first.body);

  const lua = join(persist, "post.lua");
  writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(cart)}\n`);
  const wrk = (path, script, conns) => {
    const args = ["-t", String(Math.min(2, conns)), "-c", String(conns), "-d", `${seconds}s`, "--latency", ...(script ? ["-s", script] : []), worker.url + path];
    execFileSync("wrk", ["-t", "1", "-c", "1", "-d", "2s", ...(script ? ["-s", script] : []), worker.url + path]); // warm-up
    const out = execFileSync("wrk", args, { encoding: "utf8" });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
    const pct = (p) => {
      const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
      const v = Number(m[1]);
      return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
    };
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
    return { rps, p50: pct(50), p99: pct(99), errors: Number(errors) };
  };
  const cartOnly = await timed("/v1/evaluate?notApplied=cart", post);
  const runs = [1, connections].map((c) => ({
    c,
    evaluate: wrk("/v1/evaluate", lua, c),
    cart: wrk("/v1/evaluate?notApplied=cart", lua, c),
    ping: wrk("/v1/ping", null, c),
  }));

  const build = fileURLToPath(new URL("../build", import.meta.url));
  const files = [];
  const walk = (d) => readdirSync(d).forEach((f) => {
    const p = join(d, f);
    statSync(p).isDirectory() ? walk(p) : files.push(p);
  });
  walk(build);
  const raw = files.reduce((n, f) => n + statSync(f).size, 0);
  const gz = files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  const wasm = files.find((f) => f.endsWith(".wasm"));

  const row = (name, c, r) => `| ${name} | ${c} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.errors} |`;
  console.log(`\nedge Worker in workerd (wrangler dev --local), wrk, ${seconds} s per run, this machine`);
  console.log(`bundle: ${evaluation.bundleId} v${evaluation.bundleVersion} (1,000 promotions), cart of ${evaluation.lines.length} lines, ${evaluation.applied.length} applied; answer ${(first.body.length / 1024).toFixed(1)} KiB, ${(cartOnly.body.length / 1024).toFixed(1)} KiB with ?notApplied=cart`);
  console.log("| route | connections | requests/s | p50 | p99 | non-2xx |");
  console.log("|---|---|---|---|---|---|");
  for (const r of runs) {
    console.log(row("POST /v1/evaluate", r.c, r.evaluate));
    console.log(row("POST /v1/evaluate?notApplied=cart", r.c, r.cart));
    console.log(row("GET /v1/ping (empty route)", r.c, r.ping));
  }
  for (const r of runs) {
    const cpu = (1000 / r.evaluate.rps - 1000 / r.ping.rps).toFixed(2);
    console.log(`${r.c} connection(s): evaluate at ${(r.evaluate.rps / r.ping.rps).toFixed(2)} × the empty route's throughput (${(r.cart.rps / r.ping.rps).toFixed(2)} × with ?notApplied=cart); p50 +${(r.evaluate.p50 - r.ping.p50).toFixed(2)} ms; ${cpu} ms more per request`);
  }
  console.log(`start: wrangler ready in ${(worker.startMs / 1000).toFixed(1)} s; first /v1/evaluate ${first.ms.toFixed(1)} ms (cold isolate, bundle read and verified), second ${second.ms.toFixed(1)} ms`);
  console.log(`size: ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzip (wasm ${(statSync(wasm).size / 1024).toFixed(0)} KiB, ${(gzipSync(readFileSync(wasm), { level: 9 }).length / 1024).toFixed(0)} KiB gzip); free plan limit 3 MB compressed`);
} finally {
  await worker.stop();
}
