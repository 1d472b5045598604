/** The identity's pages: server-rendered, in French, accessible (labels, headings, errors announced, keyboard only). */

import { escapeHtml } from "@mutualis/service-kit";

export { escapeHtml };

const style = `
body{font-family:system-ui,sans-serif;margin:0;background:#f5f5fe;color:#161616}
main{max-width:32rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px #0003}
h1{font-size:1.5rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem;border:1px solid #3a3a3a;border-radius:.25rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem;background:#000091;color:#fff;border:0;border-radius:.25rem;cursor:pointer}
button.secondary{background:#fff;color:#000091;border:1px solid #000091}
:focus-visible{outline:3px solid #0a76f6;outline-offset:2px}
.error{border-left:4px solid #ce0500;background:#fee;padding:.75rem;margin:1rem 0}
.hint{color:#555;font-size:.9rem}`;

/** A whole page; `body` is HTML already escaped by the caller. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Mutualis</title><style>${style}</style></head>
<body><main id="contenu">${body}</main></body></html>`;
}

function errorBlock(message: string | undefined): string {
  return message ? `<div class="error" role="alert" id="erreur">${escapeHtml(message)}</div>` : "";
}

export function signInPage(options: { action: string; client: string; email?: string; error?: string; proconnect?: string }): string {
  const described = options.error ? ' aria-describedby="erreur"' : "";
  return page(
    "Connexion",
    `<h1>Connexion à Mutualis</h1>
<p>pour accéder à <strong>${escapeHtml(options.client)}</strong></p>
${errorBlock(options.error)}
<form method="post" action="${escapeHtml(options.action)}" novalidate>
<label for="email">Adresse électronique</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(options.email ?? "")}"${described}${options.email ? "" : " autofocus"}>
<label for="password">Mot de passe</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}${options.email ? " autofocus" : ""}>
<button type="submit">Se connecter</button>
</form>
${options.proconnect ? `<form method="post" action="${escapeHtml(options.proconnect)}"><button type="submit" class="secondary">S’identifier avec ProConnect</button></form>` : ""}
<p>Votre entreprise n’a pas encore de compte ? <a href="/inscription">Inscrivez-la</a>.</p>`,
  );
}

export function totpPage(options: { action: string; error?: string }): string {
  return page(
    "Second facteur",
    `<h1>Code de vérification</h1>
<p>Saisissez le code à six chiffres affiché par votre application d’authentification.</p>
${errorBlock(options.error)}
<form method="post" action="${escapeHtml(options.action)}">
<label for="code">Code à six chiffres</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required autofocus${options.error ? ' aria-describedby="erreur"' : ""}>
<button type="submit">Valider</button>
</form>`,
  );
}

/** The first sign-in of an administrator whose collectivity requires a second factor: their application is set up. */
export function totpEnrollmentPage(options: { action: string; secret: string; uri: string; error?: string }): string {
  const grouped = options.secret.match(/.{1,4}/g)!.join(" ");
  return page(
    "Second facteur",
    `<h1>Activer la validation en deux étapes</h1>
<p>Votre collectivité demande à ses administrateurs un code à usage unique en plus de leur mot de passe. Ajoutez ce compte à votre application d’authentification (par exemple FreeOTP ou Aegis), puis saisissez le code qu’elle affiche.</p>
<p>Clé à saisir dans l’application : <code id="cle">${escapeHtml(grouped)}</code> (ou <a href="${escapeHtml(options.uri)}">ouvrir dans l’application</a>).</p>
${errorBlock(options.error)}
<form method="post" action="${escapeHtml(options.action)}">
<label for="code">Code à six chiffres</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required autofocus${options.error ? ' aria-describedby="erreur"' : ""}>
<button type="submit">Activer et se connecter</button>
</form>`,
  );
}

export function consentPage(options: { action: string; abort: string; client: string; scopes: readonly string[] }): string {
  const described: Record<string, string> = {
    openid: "vous identifier",
    email: "connaître votre adresse électronique",
    profile: "connaître vos nom et prénom",
    mutualis: "connaître vos collectivités et vos rôles, et agir en votre nom sur la plateforme",
    offline_access: "rester connecté en votre absence",
  };
  return page(
    "Autorisation",
    `<h1>Autoriser ${escapeHtml(options.client)} ?</h1>
<p>Cette application demande à :</p>
<ul>${options.scopes.map((s) => `<li>${escapeHtml(described[s] ?? s)}</li>`).join("")}</ul>
<form method="post" action="${escapeHtml(options.action)}"><button type="submit">Autoriser</button></form>
<form method="post" action="${escapeHtml(options.abort)}"><button type="submit" class="secondary">Refuser</button></form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>${errorBlock(message)}<p><a href="javascript:history.back()">Revenir à la page précédente</a></p>`);
}

/** A page around a form oidc-provider makes (device code, logout): our fields and buttons name it with `form=`. */
export function pageAround(title: string, intro: string, form: string, controls: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(intro)}</p>${form}${controls}`);
}
