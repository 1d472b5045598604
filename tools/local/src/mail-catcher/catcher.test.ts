import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@mutualis/operator";
import nodemailer from "nodemailer";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startMailCatcher, type MailCatcher } from "./catcher.ts";
import { linkedText } from "./pages.ts";
import type { CaughtMessage } from "./store.ts";

const log = createLogger("mail-catcher-test", "silent");

async function send(catcher: MailCatcher, message: nodemailer.SendMailOptions) {
  const transport = nodemailer.createTransport(catcher.smtpUrl);
  try {
    return await transport.sendMail({ from: "Mutualis <no-reply@mutualis.example>", ...message });
  } finally {
    transport.close();
  }
}

async function messages(catcher: MailCatcher, query = ""): Promise<CaughtMessage[]> {
  const response = await fetch(`${catcher.webUrl}/api/messages${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: CaughtMessage[] }).messages;
}

async function page(catcher: MailCatcher, path: string): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(`${catcher.webUrl}${path}`);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe("mail catcher", () => {
  let dataDir: string;
  const running: MailCatcher[] = [];
  const start = async (options: { sizeLimit?: number } = {}) => {
    const catcher = await startMailCatcher({ dataDir, log, ...options });
    running.push(catcher);
    return catcher;
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "mail-catcher-"));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it("when a message is sent, then the API gives its sender, recipients, subject, French text, HTML and attachments", async () => {
    const catcher = await start();

    await send(catcher, {
      to: "Agent de Rennes <agent@ville-rennes.example>",
      cc: "dsi@ville-rennes.example",
      bcc: "archives@ville-rennes.example",
      subject: "Délibération reçue à la préfecture",
      text: "Votre délibération « Élection du maire » a été reçue. Accusé : https://mutualis.example/partage/abc",
      html: "<p>Votre délibération a été reçue.</p>",
      attachments: [{ filename: "accusé.pdf", content: Buffer.alloc(2048, 1), contentType: "application/pdf" }],
    });

    const [message, ...others] = await messages(catcher);
    expect(others).toEqual([]);
    expect(message).toMatchObject({
      from: "Mutualis <no-reply@mutualis.example>",
      recipients: ["agent@ville-rennes.example", "dsi@ville-rennes.example", "archives@ville-rennes.example"],
      to: ["agent@ville-rennes.example"],
      cc: ["dsi@ville-rennes.example"],
      subject: "Délibération reçue à la préfecture",
      html: "<p>Votre délibération a été reçue.</p>",
      attachments: [{ filename: "accusé.pdf", contentType: "application/pdf", size: 2048 }],
    });
    expect(message!.text.trim()).toBe("Votre délibération « Élection du maire » a été reçue. Accusé : https://mutualis.example/partage/abc");
    const byId = await fetch(`${catcher.webUrl}/api/messages/${message!.id}`);
    expect(await byId.json()).toEqual(message);
  });

  it("when messages go to several people, then the newest comes first and ?to= keeps one recipient's, Bcc included", async () => {
    const catcher = await start();
    await send(catcher, { to: "agent@ville-rennes.example", subject: "premier", text: "1" });
    await send(catcher, { to: "offres@entreprise.example", bcc: "Agent@Ville-Rennes.example", subject: "deuxième", text: "2" });
    await send(catcher, { to: "offres@entreprise.example", subject: "troisième", text: "3" });

    expect((await messages(catcher)).map((m) => m.subject)).toEqual(["troisième", "deuxième", "premier"]);
    expect((await messages(catcher, "?to=agent%40ville-rennes.example")).map((m) => m.subject)).toEqual(["deuxième", "premier"]);
    expect(await messages(catcher, "?to=personne%40nulle-part.example")).toEqual([]);
  });

  it("when the catcher restarts, then it still has its messages, in order, and numbers new ones after them", async () => {
    const first = await start();
    await send(first, { to: "agent@ville-rennes.example", subject: "avant", text: "gardé" });
    const before = await messages(first);
    await first.stop();
    running.splice(0);

    const second = await start();
    expect(await messages(second)).toEqual(before);
    await send(second, { to: "agent@ville-rennes.example", subject: "après", text: "nouveau" });
    expect((await messages(second)).map((m) => m.subject)).toEqual(["après", "avant"]);
  });

  it("when the messages are cleared, then none is left, in memory or on disk", async () => {
    const catcher = await start();
    await send(catcher, { to: "agent@ville-rennes.example", subject: "à effacer", text: "x" });

    const cleared = await fetch(`${catcher.webUrl}/api/messages`, { method: "DELETE" });

    expect(cleared.status).toBe(204);
    expect(await messages(catcher)).toEqual([]);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it("when a message is larger than the limit, then it is refused and not kept", async () => {
    const catcher = await start({ sizeLimit: 4096 });

    await expect(send(catcher, { to: "agent@ville-rennes.example", subject: "trop gros", text: "x".repeat(20_000) })).rejects.toMatchObject({ responseCode: 552 });
    expect(await messages(catcher)).toEqual([]);
  });

  it("when a message holds HTML, then the pages show it escaped, its HTML only in a sandboxed frame", async () => {
    const catcher = await start();
    await send(catcher, {
      to: "agent@ville-rennes.example",
      subject: "<b>Objet</b> piégé",
      text: "Voir <script>alert(1)</script> et https://mutualis.example/partage/abc?x=1&y=2",
      html: `<p onclick="alert(2)">Bonjour</p><script>alert(3)</script><img src="https://tracker.example/p.gif">`,
    });
    const [message] = await messages(catcher);

    const list = await page(catcher, "/");
    expect(list.status).toBe(200);
    expect(list.body).toContain('<html lang="fr">');
    expect(list.body).toMatch(/<caption>Courriels reçus[^<]*\(1\)<\/caption>/);
    expect(list.body).toContain('<th scope="col">Objet</th>');
    expect(list.body).toContain("&lt;b&gt;Objet&lt;/b&gt; piégé");
    expect(list.body).not.toContain("<b>Objet</b>");

    const shown = await page(catcher, `/messages/${message!.id}`);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(shown.body).not.toMatch(/<script|<p onclick|<img/);
    expect(shown.body).toContain("Voir &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(shown.body).toContain('<a href="https://mutualis.example/partage/abc?x=1&amp;y=2" rel="noreferrer">');
    expect(shown.body).toMatch(/<iframe title="Version HTML du courriel" sandbox srcdoc="&lt;p onclick=&quot;alert\(2\)&quot;&gt;Bonjour/);
  });

  it("when a message is unknown, then the API answers 404 and the page says so in French", async () => {
    const catcher = await start();

    expect((await fetch(`${catcher.webUrl}/api/messages/nope`)).status).toBe(404);
    const shown = await page(catcher, "/messages/%E0%A4%A");
    expect(shown.status).toBe(404);
    expect(shown.body).toContain("Courriel introuvable");
  });
});

describe("linkedText", () => {
  it.each([
    ["a plain sentence", "Bonjour & merci", "Bonjour &amp; merci"],
    ["an https link at the end of a sentence", "Voir https://a.example/x.", 'Voir <a href="https://a.example/x" rel="noreferrer">https://a.example/x</a>.'],
    ["a link between guillemets", "« http://a.example/y »", '« <a href="http://a.example/y" rel="noreferrer">http://a.example/y</a> »'],
    ["a javascript: URL", "javascript:alert(1)", "javascript:alert(1)"],
    ["markup around a link", "<b>https://a.example</b>", '&lt;b&gt;<a href="https://a.example" rel="noreferrer">https://a.example</a>&lt;/b&gt;'],
  ])("when the text is %s, then only http(s) links become links and the rest is escaped", (_case, text, html) => {
    expect(linkedText(text)).toBe(html);
  });
});
