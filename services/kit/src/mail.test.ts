import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { pino } from "pino";
import { SMTPServer } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { Unavailable } from "./errors.ts";
import { Mailer } from "./mail.ts";

interface Received {
  readonly recipients: string[];
  readonly mail: ParsedMail;
}

/** A real SMTP server on a free loopback port, keeping what it receives. */
async function startRelay(): Promise<{ url: string; received: Received[]; stop: () => Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          received.push({ recipients: session.envelope.rcptTo.map((r) => r.address), mail });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  const listening = server.listen(0, "127.0.0.1");
  await new Promise((resolve) => listening.once("listening", resolve));
  const { port } = listening.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, received, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/** A logger whose lines the test reads. */
function capturedLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: "info" }, { write: (line: string) => lines.push(line) }), lines };
}

const invitation = {
  to: ["agent@ville-rennes.example", "dsi@ville-rennes.example"],
  subject: "Délibération reçue à la préfecture",
  text: "Bonjour,\n\nVotre délibération « Élection du maire » a été reçue. Accusé de réception : https://mutualis.example/partage/secret-capability\n\nÀ bientôt,\nl'équipe Mutualis",
  html: "<p>Votre délibération « Élection du maire » a été reçue.</p>",
};

describe("Mailer", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("when a relay is configured, then the message arrives with its subject, recipients and French text", async () => {
    const relay = await startRelay();
    cleanups.push(relay.stop);
    const { log } = capturedLog();
    const mailer = new Mailer({ url: relay.url, from: "Mutualis <no-reply@mutualis.example>", log });
    cleanups.push(() => mailer.close());

    const result = await mailer.send(invitation);

    expect(result).toMatchObject({ sent: true, accepted: invitation.to, rejected: [] });
    expect(relay.received).toHaveLength(1);
    const [{ recipients, mail }] = relay.received as [Received];
    expect(recipients).toEqual(invitation.to);
    expect(mail.subject).toBe("Délibération reçue à la préfecture");
    expect(mail.from?.value).toEqual([{ address: "no-reply@mutualis.example", name: "Mutualis" }]);
    expect(mail.text?.trim()).toBe(invitation.text);
    expect(mail.html).toContain("« Élection du maire »");
  });

  it("when a message is sent, then the log holds its subject and recipient count, never its body, link or addresses", async () => {
    const relay = await startRelay();
    cleanups.push(relay.stop);
    const { log, lines } = capturedLog();
    const mailer = new Mailer({ url: relay.url, from: "Mutualis <no-reply@mutualis.example>", log });
    cleanups.push(() => mailer.close());

    await mailer.send(invitation);

    const logged = lines.join("");
    expect(logged).toContain("Délibération reçue à la préfecture");
    expect(logged).toContain('"recipients":2');
    expect(logged).not.toMatch(/secret-capability|Élection du maire|ville-rennes/);
  });

  it("when no relay is configured, then nothing is sent, nothing is thrown, and a warning leaves the body out", async () => {
    const { log, lines } = capturedLog();
    const mailer = Mailer.fromSettings({ SMTP_URL: undefined, MAIL_FROM: "Mutualis <no-reply@mutualis.example>" }, log);

    const result = await mailer.send(invitation);

    expect(result).toEqual({ sent: false, reason: "not-configured" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, recipients: 2, subject: invitation.subject });
    expect(lines[0]).not.toMatch(/secret-capability|Élection du maire|ville-rennes/);
  });

  it("when the relay cannot be reached, then sending fails as Unavailable", async () => {
    const relay = await startRelay();
    await relay.stop();
    const { log } = capturedLog();
    const mailer = new Mailer({ url: relay.url, from: "Mutualis <no-reply@mutualis.example>", log });

    await expect(mailer.send(invitation)).rejects.toBeInstanceOf(Unavailable);
  });
});
