/** The simulator's pages: French, plain HTML, usable with the keyboard alone. */
import { createHash } from "node:crypto";
import type { TestAgent } from "./settings.ts";

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (character) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[character]!);

const STYLE = `
body{font-family:Marianne,Arial,sans-serif;margin:0;color:#161616;background:#f6f6f6;line-height:1.5}
.bandeau{margin:0;padding:.5rem 1rem;background:#fff4f3;color:#6e0000;border-bottom:1px solid #ce0500}
main{max-width:40rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #ddd}
h1{font-size:1.5rem;margin-top:0}
fieldset{border:0;margin:0;padding:0}
legend{font-weight:bold;margin-bottom:.5rem}
ul{list-style:none;margin:0;padding:0}
li{margin:0 0 .75rem}
button{font:inherit;cursor:pointer;border:1px solid #000091;border-radius:.25rem;padding:.75rem 1rem;background:#000091;color:#fff;text-align:left;width:100%}
button.secondaire{background:#fff;color:#000091;width:auto}
button:hover{background:#1212ff}
button.secondaire:hover{background:#e3e3fd}
button:focus-visible{outline:3px solid #0a76f6;outline-offset:2px}
.nom{display:block;font-weight:bold}
.detail{display:block;font-size:.875rem}
code{word-break:break-all}
`;

/** Submits the logout form at once, as ProConnect does not ask again; without scripts, the button remains. */
const LOGOUT_SCRIPT = `document.getElementById("deconnexion").click();`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** What the Content-Security-Policy must allow for these pages' one stylesheet and one script. */
export const INLINE_SOURCES = { style: sha256(STYLE), script: sha256(LOGOUT_SCRIPT) } as const;

function page(title: string, body: string, script = ""): string {
  return `<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — simulateur ProConnect</title>
<style>${STYLE}</style>
</head>
<body>
<p class="bandeau" role="note">Simulateur ProConnect : environnement de test, les identités proposées sont fictives.</p>
<main>
${body}
</main>
${script ? `<script>${script}</script>` : ""}
</body>
</html>`;
}

const groupedSiret = (siret: string) => `${siret.slice(0, 3)} ${siret.slice(3, 6)} ${siret.slice(6, 9)} ${siret.slice(9)}`;

export interface LoginPageOptions {
  readonly serviceName: string;
  readonly agents: readonly TestAgent[];
  /** Where the chosen agent is posted (field `email`). */
  readonly action: string;
  readonly abortAction: string;
  /** The e-mail the service suggested (`login_hint`): its agent gets the focus. */
  readonly suggestedEmail?: string;
}

/** The login page: one button per test agent, as ProConnect's test identity provider offers. */
export function loginPage(options: LoginPageOptions): string {
  const suggested = options.agents.find((agent) => agent.email.toLowerCase() === options.suggestedEmail?.toLowerCase()) ?? options.agents[0];
  const agents = options.agents
    .map(
      (agent) => `<li><button type="submit" name="email" value="${escapeHtml(agent.email)}"${agent === suggested ? " autofocus" : ""}>
<span class="nom">${escapeHtml(`${agent.given_name} ${agent.usual_name}`)}</span>
<span class="detail">${escapeHtml(agent.email)}</span>
<span class="detail">${escapeHtml([agent.organization, agent.organizational_unit].filter(Boolean).join(", "))}${agent.organization || agent.organizational_unit ? " — " : ""}SIRET ${groupedSiret(agent.siret)}</span>
</button></li>`,
    )
    .join("\n");
  return page(
    "Connexion",
    `<h1>Se connecter à ${escapeHtml(options.serviceName)} avec ProConnect</h1>
<p>Choisissez l'agent de test dont vous prenez l'identité. Aucun mot de passe n'est demandé.</p>
<form method="post" action="${escapeHtml(options.action)}">
<fieldset>
<legend>Agents de test</legend>
<ul>
${agents}
</ul>
</fieldset>
</form>
<form method="post" action="${escapeHtml(options.abortAction)}">
<button type="submit" class="secondaire">Annuler et revenir au service</button>
</form>`,
  );
}

export interface ErrorPageOptions {
  readonly title: string;
  readonly message: string;
  /** The OpenID Connect error code, shown for the developer. */
  readonly code?: string;
}

export function errorPage(options: ErrorPageOptions): string {
  return page(
    options.title,
    `<h1>${escapeHtml(options.title)}</h1>
<p>${escapeHtml(options.message)}</p>
${options.code ? `<p>Code d'erreur : <code>${escapeHtml(options.code)}</code></p>` : ""}
<p>Retournez sur le service et recommencez la connexion.</p>`,
  );
}

/** RP-initiated logout: `form` is oidc-provider's (it carries the anti-forgery value); it is sent at once. */
export function logoutPage(form: string): string {
  return page(
    "Déconnexion",
    `<h1>Déconnexion de ProConnect</h1>
<p>Vous allez être déconnecté, puis renvoyé vers le service.</p>
${form}
<button type="submit" id="deconnexion" form="op.logoutForm" name="logout" value="yes" autofocus>Se déconnecter</button>`,
    LOGOUT_SCRIPT,
  );
}

export function loggedOutPage(): string {
  return page("Déconnecté", `<h1>Vous êtes déconnecté de ProConnect</h1>\n<p>Vous pouvez fermer cette page.</p>`);
}
