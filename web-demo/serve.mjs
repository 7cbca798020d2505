// The storefront's server: the page (public/), the evaluator's web build (/pkg/, from
// evaluator-wasm/npm/dist/web), /config.json (where the edge is, and the shop's public trust
// root), and /customer: the shop backend's one job in this demo, vouching for who the shopper is.
// Every price is computed in the browser, at the edge and at the ledger.
//   node web-demo/serve.mjs --port 8080 --edge http://127.0.0.1:8787 --root shop/root.env
//     --shop-key keys/shop-1.key [--promoseal target/release/promoseal]
//     [--catalog examples/shop/catalog.json]
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    edge: { type: "string", default: "http://127.0.0.1:8787" },
    root: { type: "string" },
    catalog: { type: "string", default: resolve(here, "../examples/shop/catalog.json") },
    "shop-key": { type: "string" },
    promoseal: { type: "string", default: resolve(here, "../target/release/promoseal") },
  },
});
if (!values.root || !values["shop-key"]) {
  console.error("usage: serve.mjs --root ROOT.env --shop-key SHOP.key [--promoseal BIN] [--edge URL] [--port N] [--host H] [--catalog FILE]");
  process.exit(2);
}

// The demo's "signed-in" shoppers: the membership picked in the page stands for a login. A
// real backend vouches for the customer of its session; here the page names the membership
// and the session (`subject`), and the backend signs what that shopper is, nothing the page
// could make up beyond picking one of these three.
const memberships = {
  guest: {},
  member: { segments: ["members"] },
  gold: { segments: ["members"], tier: "gold" },
};
const CLAIM_TTL = 900;

/** Signs a customer claim with the shop key (`promoseal claim`: the format is defined once). */
function issueClaim(customer) {
  return new Promise((ok, fail) => {
    execFile(values.promoseal, ["claim", "--key", values["shop-key"], "--customer", JSON.stringify(customer),
      "--ttl", String(CLAIM_TTL)], (error, stdout, stderr) => (error ? fail(new Error(stderr || error.message)) : ok(stdout.trim())));
  });
}

async function customer(url, res, headers) {
  const membership = url.searchParams.get("membership") ?? "";
  const subject = url.searchParams.get("subject") ?? "";
  const extra = Object.hasOwn(memberships, membership) ? memberships[membership] : null;
  if (!extra || !/^[A-Za-z0-9-]{8,64}$/.test(subject)) {
    res.writeHead(400, { ...headers, "Content-Type": "application/json" })
      .end(JSON.stringify({ error: { code: "invalidRequest", message: "membership: guest, member or gold; subject: 8 to 64 letters, digits or dashes" } }));
    return;
  }
  const who = { id: `shopper-${subject}`, ...extra };
  try {
    const claim = await issueClaim(who);
    res.writeHead(200, { ...headers, "Content-Type": "application/json", "Cache-Control": "no-store" })
      .end(JSON.stringify({ customer: who, claim, expiresIn: CLAIM_TTL }));
  } catch (e) {
    console.error(`customer claim: ${e.message}`);
    res.writeHead(500, { ...headers, "Content-Type": "application/json" })
      .end(JSON.stringify({ error: { code: "internal", message: "internal error" } }));
  }
}
const config = JSON.stringify({
  edgeUrl: values.edge.replace(/\/$/, ""),
  trustRoot: readFileSync(values.root).toString("base64"),
});
const catalog = readFileSync(values.catalog);
const mounts = [
  ["/pkg/", resolve(here, "../evaluator-wasm/npm/dist/web")],
  ["/", resolve(here, "public")],
];
const types = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm",
};
const csp = [
  "default-src 'self'", `connect-src 'self' ${new URL(values.edge).origin}`,
  "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join("; ");

const server = createServer(async (req, res) => {
  const headers = {
    "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
  };
  // Every route reads; anything else is refused before the path is looked at.
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...headers, Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed");
    return;
  }
  let url;
  let path;
  try {
    url = new URL(req.url, "http://x");
    path = decodeURIComponent(url.pathname);
  } catch {
    // A malformed escape (`/%E0%A4%A`) is the client's error, never the server's end.
    res.writeHead(400, { ...headers, "Content-Type": "text/plain" }).end("malformed path");
    return;
  }
  if (path === "/customer") {
    await customer(url, res, headers);
    return;
  }
  if (path === "/config.json") {
    res.writeHead(200, { ...headers, "Content-Type": "application/json" }).end(config);
    return;
  }
  if (path === "/catalog.json") {
    res.writeHead(200, { ...headers, "Content-Type": "application/json" }).end(catalog);
    return;
  }
  const [prefix, dir] = mounts.find(([p]) => path.startsWith(p));
  const rel = normalize(path.slice(prefix.length) || "index.html");
  const file = join(dir, rel.endsWith("/") ? `${rel}index.html` : rel);
  if (!file.startsWith(dir + "/") || rel.startsWith("..")) {
    res.writeHead(404, headers).end("not found");
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { ...headers, "Content-Type": types[extname(file)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found");
  }
});
server.listen(Number(values.port), values.host, () => {
  console.log(`storefront: http://${values.host}:${values.port}/`);
});
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => server.close(() => process.exit(0)));
