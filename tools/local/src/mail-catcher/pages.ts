import type { CaughtMessage } from "./store.ts";

/**
 * The catcher's pages, in French. Everything a message holds is text to escape: its HTML body
 * is shown only inside a sandboxed frame (no scripts, no same origin), and the page's
 * Content-Security-Policy (see web.ts) lets that frame load nothing.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The text with its http(s) links made clickable, everything else escaped. */
export function linkedText(text: string): string {
  let html = "";
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)»]/g)) {
    html += escapeHtml(text.slice(last, match.index)) + `<a href="${escapeHtml(match[0])}" rel="noreferrer">${escapeHtml(match[0])}</a>`;
    last = match.index + match[0].length;
  }
  return html + escapeHtml(text.slice(last));
}

const dateFormat = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "medium", timeZone: "Europe/Paris" });

function time(iso: string): string {
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(dateFormat.format(new Date(iso)))}</time>`;
}

function subjectOf(message: CaughtMessage): string {
  return message.subject ? escapeHtml(message.subject) : "(sans objet)";
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} octets` : `${(bytes / 1024).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} Kio`;
}

const style = `
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; line-height: 1.5; color: #1e1e1e; }
  table { border-collapse: collapse; width: 100%; }
  caption { text-align: left; font-weight: bold; padding-bottom: .5rem; }
  th, td { border-bottom: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
  a { color: #000091; }
  a:focus { outline: 3px solid #0a76f6; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: 1rem; }
  dt { font-weight: bold; }
  iframe { width: 100%; min-height: 24rem; border: 1px solid #ccc; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Courriels de la plateforme locale</title>
<style>${style}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** Every message, newest first. */
export function listPage(messages: readonly CaughtMessage[]): string {
  const rows = messages.map(
    (m) => `<tr>
<td>${time(m.receivedAt)}</td>
<td>${escapeHtml(m.from)}</td>
<td>${escapeHtml(m.recipients.join(", "))}</td>
<th scope="row"><a href="/messages/${encodeURIComponent(m.id)}">${subjectOf(m)}</a></th>
</tr>`,
  );
  const table = `<table>
<caption>Courriels reçus, du plus récent au plus ancien (${messages.length})</caption>
<thead>
<tr><th scope="col">Reçu le</th><th scope="col">De</th><th scope="col">Destinataires</th><th scope="col">Objet</th></tr>
</thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>`;
  return page(
    "Courriels reçus",
    `<h1>Courriels reçus</h1>
<p>Les courriels que les services de la plateforme locale envoient arrivent ici ; aucun n'est remis à son destinataire.</p>
${messages.length > 0 ? table : "<p>Aucun courriel reçu pour l'instant.</p>"}`,
  );
}

/** One message: its headers, its text, its attachments, and its HTML version in a sandbox. */
export function messagePage(message: CaughtMessage): string {
  const attachments = message.attachments.length
    ? `<ul>${message.attachments.map((a) => `<li>${escapeHtml(a.filename)} (${escapeHtml(a.contentType)}, ${size(a.size)})</li>`).join("")}</ul>`
    : "aucune";
  const html = message.html
    ? `<h2>Version HTML</h2>
<p>Affichée sans scripts ni contenu externe.</p>
<iframe title="Version HTML du courriel" sandbox srcdoc="${escapeHtml(message.html)}"></iframe>`
    : "";
  return page(
    message.subject || "(sans objet)",
    `<p><a href="/">Retour à la liste des courriels</a></p>
<h1>${subjectOf(message)}</h1>
<dl>
<dt>De</dt><dd>${escapeHtml(message.from)}</dd>
<dt>Destinataires</dt><dd>${escapeHtml(message.recipients.join(", "))}</dd>
${message.cc.length ? `<dt>Copie</dt><dd>${escapeHtml(message.cc.join(", "))}</dd>` : ""}
<dt>Reçu le</dt><dd>${time(message.receivedAt)}</dd>
<dt>Pièces jointes</dt><dd>${attachments}</dd>
</dl>
<h2>Texte</h2>
<pre>${message.text ? linkedText(message.text) : "(ce courriel n'a pas de version texte)"}</pre>
${html}`,
  );
}

export function notFoundPage(): string {
  return page("Courriel introuvable", `<p><a href="/">Retour à la liste des courriels</a></p>\n<h1>Courriel introuvable</h1>\n<p>Ce courriel n'existe pas ou a été supprimé.</p>`);
}
