import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium, headless, as the tests drive it: without a sandbox (the tests run as root)
 * and without the background traffic this machine's closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}
