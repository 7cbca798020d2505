// Child processes for the tests, benchmarks and the demo: free ports, temporary folders, a
// process whose output is kept for the error message, waiting until it answers, stopping it.
// Nothing here reaches beyond 127.0.0.1.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd`; `child.output()` is the tail of what it printed (stdout and stderr). */
export function launch(cmd, args, opts) {
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

/** Waits until `url` answers 2xx; fails with the child's output if it exits or time runs out. */
export async function waitFor(url, child, what, seconds) {
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

/** Stops a launched child with `signal`, then SIGKILL after 10 s. */
export async function stop(child, signal = "SIGINT") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(timer);
}
