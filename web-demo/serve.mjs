// The storefront's static server: the page (public/), the evaluator's web build (/pkg/, from
// evaluator/npm/dist/web) and /config.json (where the edge is, and the shop's public trust
// root). It serves files only; every price is computed in the browser.
//   node web-demo/serve.mjs --port 8080 --edge http://127.0.0.1:8787 --root shop/root.env
//     [--catalog examples/shop/catalog.json]
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
  },
});
if (!values.root) {
  console.error("usage: serve.mjs --root ROOT.env [--edge URL] [--port N] [--host H] [--catalog FILE]");
  process.exit(2);
}
const config = JSON.stringify({
  edgeUrl: values.edge.replace(/\/$/, ""),
  trustRoot: readFileSync(values.root).toString("base64"),
});
const catalog = readFileSync(values.catalog);
const mounts = [
  ["/pkg/", resolve(here, "../evaluator/npm/dist/web")],
  ["/", resolve(here, "public")],
];
const types = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm",
};
const csp = [
  "default-src 'self'", `connect-src 'self' ${new URL(values.edge).origin}`,
  "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
].join("; ");

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const headers = { "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache" };
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
