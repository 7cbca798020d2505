// The demo's processes (`cargo xtask demo` runs this after signing examples/shop): the ledger, the
// edge Worker and the storefront on fixed ports, until Ctrl-C stops all three.
import { startStack } from "@promoseal/testing/stack";

const port = (name, fallback) => Number(process.env[name] ?? fallback);
const stack = await startStack({
  ledger: port("LEDGER_PORT", 8788), edge: port("EDGE_PORT", 8787), web: port("WEB_PORT", 8080),
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

console.log(`
  Storefront:  ${stack.web.url}/
  Edge:        ${stack.worker.url}/healthz
  Ledger:      ${stack.ledger.url}/v1/events

  Codes to try: VIP-ANNA (30 % off running shoes), ${stack.springCodes[0]} ($5 off an order over $40,
  single use), and any other text for the uniform refusal. Ctrl-C stops everything.
`);
