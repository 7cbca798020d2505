// Headless Chromium for every browser test and benchmark: Debian's (scripts/setup.sh installs
// it; Playwright's own download cannot reach its CDN from here), driven by playwright-core.
// CHROMIUM names another binary. No Chromium is a failure, not a skip.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium() {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/setup.sh`);
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
