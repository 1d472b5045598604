import type { Mailer, MailMessage } from "@mutualis/service-kit";

/** Who sends a share, as its e-mails name them: the person (or the platform) and their collectivity. */
export interface Sender {
  readonly who?: string;
  readonly collectivity: string;
}

const dateFr = (iso: string) => new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeStyle: "short", timeZone: "Europe/Paris" }).format(new Date(iso));
const from = (sender: Sender) => (sender.who ? `${sender.who} (${sender.collectivity})` : sender.collectivity);
const closing = "\n\n--\nCe message a été envoyé par la plateforme d’échange sécurisé Mutualis. Ce lien est personnel : ne le transférez pas.";

/** The e-mail that gives a recipient their own link to a share. */
export function recipientNotice(sender: Sender, share: { description: string; expiresAt: string; passwordRequired: boolean }, link: { email: string; url: string }): MailMessage {
  const about = share.description ? ` : « ${share.description} »` : "";
  return {
    to: link.email,
    subject: `Des fichiers vous sont transmis par ${sender.collectivity}`,
    text:
      `Bonjour,\n\n${from(sender)} vous transmet des fichiers de façon sécurisée${about}.\n\n` +
      `Votre lien personnel : ${link.url}\n` +
      `Il est valable jusqu’au ${dateFr(share.expiresAt)} ; les fichiers sont disponibles dès qu’ils ont été déposés.` +
      (share.passwordRequired ? "\nUn mot de passe vous sera communiqué séparément." : "") +
      closing,
  };
}

/** The e-mail that invites a guest (a company, a citizen) to send files, once, with the voucher. */
export function guestInvitation(sender: Sender, voucher: { description: string; uploadUntil: string; voucherUrl: string }, guest: string): MailMessage {
  const about = voucher.description ? ` (« ${voucher.description} »)` : "";
  return {
    to: guest,
    subject: `${sender.collectivity} vous invite à déposer des fichiers`,
    text:
      `Bonjour,\n\n${from(sender)} vous invite à lui transmettre des fichiers de façon sécurisée${about}.\n\n` +
      `Déposez-les à cette adresse : ${voucher.voucherUrl}\n` +
      `Vous pouvez le faire jusqu’au ${dateFr(voucher.uploadUntil)}, en une seule fois : une fois votre envoi terminé, l’invitation ne sert plus.` +
      closing,
  };
}

/**
 * Sends the notices of one step of a share and says, per address, whether it went: a relay that
 * fails does not undo the step (the caller has the links in the answer), and the audit says so.
 */
export async function sendNotices(mailer: Mailer, messages: readonly MailMessage[]): Promise<{ sent: string[]; failed: string[] }> {
  const sent: string[] = [];
  const failed: string[] = [];
  for (const message of messages) {
    const to = String(message.to);
    const result = await mailer.send(message).catch(() => undefined);
    (result?.sent && !result.rejected.includes(to) ? sent : failed).push(to);
  }
  return { sent, failed };
}
