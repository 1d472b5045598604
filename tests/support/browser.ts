import { chromium, type Browser, type Page } from "playwright-core";

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

/**
 * A person signs in at the portal, in a fresh browser context, with their password at the
 * identity service and, when `code` is given (they have an authenticator application), its code.
 */
export async function signInAtPortal(browser: Browser, portalUrl: string, issuer: string, email: string, password: string, code?: () => Promise<string>): Promise<Page> {
  const page = await (await browser.newContext({ locale: "fr-FR", ignoreHTTPSErrors: true })).newPage();
  await page.goto(portalUrl);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.waitForURL(`${issuer}/**`);
  // (The sign-in page's keyboard use is tested in identity-browser.test.ts.)
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
  if (code) {
    await page.locator("#code").waitFor();
    await page.fill("#code", await code());
    await page.press("#code", "Enter");
  }
  await page.waitForURL(`${portalUrl}/`);
  return page;
}
