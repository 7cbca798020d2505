// The demo's processes (`cargo xtask demo` runs this after signing examples/shop): the ledger, the
// edge Worker, the storefront and the promotions console on fixed ports, until Ctrl-C stops all.
import { startStack } from "@promoseal/testing/stack";

const port = (name, fallback) => Number(process.env[name] ?? fallback);
const stack = await startStack({
  ledger: port("LEDGER_PORT", 8788), edge: port("EDGE_PORT", 8787), web: port("WEB_PORT", 8080),
  console: port("CONSOLE_PORT", 8790),
}, { console: true });
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

const keys = `${stack.work}/keys`;
console.log(`
  Storefront:  ${stack.web.url}/
  Console:     ${stack.console.url}/  (sign in: on the sign-in page, enroll a key file, then sign in with it)
                 marketing (requests, approves):          ${keys}/marketing-1.key
                 finance (approves budgets up to $20,000): ${keys}/finance-1.key
                 release (publishes, pauses, rolls back):  ${keys}/release-2.key
                 promotions manager (the code inventory):  ${keys}/promotions-1.key
                 viewer (reads):                           ${keys}/viewer-1.key
  Edge:        ${stack.worker.url}/healthz
  Ledger:      ${stack.ledger.url}/v1/events

  Codes to try: VIP-ANNA (30 % off running shoes), ${stack.springCodes[0]} ($5 off an order over $40,
  single use), and any other text for the uniform refusal. Ctrl-C stops everything.
`);
