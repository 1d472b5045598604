/**
 * The portal's pages, rendered on the server: French, one `h1` per page, a skip link, labelled
 * forms, tables with captions and header scopes, focus visible; usable with the keyboard alone.
 */
import { escapeHtml, roles, type Role, type UserCaller } from "@mutualis/service-kit";

export { escapeHtml };

const style = `
:root{color-scheme:light;font-family:system-ui,"Marianne",Arial,sans-serif;color:#161616}
body{margin:0;line-height:1.5}a{color:#000091}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #0a76f6;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#000091;color:#fff;padding:1rem 2rem;display:flex;justify-content:space-between;align-items:center}
header a,header button{color:#fff}header form{margin:0}
header button{background:none;border:1px solid #fff;padding:.4rem .8rem;font-size:1rem;cursor:pointer}
main{padding:1rem 2rem 3rem;max-width:60rem}
table{border-collapse:collapse;width:100%}caption{text-align:left;font-weight:700;padding:.5rem 0}
th,td{border-bottom:1px solid #929292;padding:.4rem .6rem;text-align:left;vertical-align:top}
fieldset{border:0;padding:0;margin:0}legend{position:absolute;left:-999px}
button.primary{background:#000091;color:#fff;border:0;padding:.5rem 1rem;font-size:1rem;cursor:pointer}
.status{border-left:4px solid #18753c;background:#b8fec9;padding:.75rem}
.error{border-left:4px solid #ce0500;background:#fee;padding:.75rem}`;

const roleLabels: Record<Role, string> = { agent: "Agent", signataire: "Signataire", secretaire: "Secrétaire", elu: "Élu", administrateur: "Administrateur" };

export function layout(title: string, body: string, person?: { name: string; csrf: string }): string {
  const account = person
    ? `<span>${escapeHtml(person.name)}</span> <form method="post" action="/deconnexion" style="display:inline"><input type="hidden" name="csrf" value="${escapeHtml(person.csrf)}"><button type="submit">Se déconnecter</button></form>`
    : "";
  return `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Mutualis</title><style>${style}</style></head>
<body><a class="skip" href="#contenu">Aller au contenu</a>
<header><a href="/"><strong>Mutualis</strong></a><div>${account}</div></header>
<main id="contenu" tabindex="-1">${body}</main></body></html>`;
}

export function signedOutPage(): string {
  return layout(
    "Accueil",
    `<h1>Bienvenue sur Mutualis</h1>
<p>La plateforme mutualisée des collectivités : actes, échanges sécurisés, parapheur, marchés et factures.</p>
<p><a href="/connexion" role="button">Se connecter</a></p>`,
  );
}

/** The services of the catalogue, as people call them. */
const serviceLabels: Readonly<Record<string, string>> = {
  actes: "Contrôle de légalité (@ctes)",
  sesf: "Échange sécurisé de fichiers",
  identity: "Identité et connexion (ProConnect)",
  parapheur: "Parapheur électronique",
  helios: "Flux comptables (Hélios)",
  invoices: "Factures (Chorus Pro)",
  marketplace: "Salle des marchés",
  ipl: "Publication des actes",
};

/** A service a collectivity has, as the portal shows it. */
export interface CollectivityService {
  readonly service: string;
  readonly ready: boolean;
}

function servicesList(services: readonly CollectivityService[] | undefined): string {
  if (!services) return "—";
  if (services.length === 0) return "Aucun service pour l’instant.";
  return `<ul>${services.map((s) => `<li>${escapeHtml(serviceLabels[s.service] ?? s.service)}${s.ready ? "" : " (en préparation)"}</li>`).join("")}</ul>`;
}

/**
 * An agent's home: each collectivity they belong to, their roles there, the services it has, and
 * for administrators, their members.
 */
export function homePage(caller: UserCaller, csrf: string, services: Readonly<Record<string, readonly CollectivityService[] | undefined>> = {}): string {
  const collectivities = Object.entries(caller.memberships);
  const agentPart = collectivities.length
    ? `<table><caption>Vos collectivités</caption><thead><tr><th scope="col">Collectivité</th><th scope="col">Vos rôles</th><th scope="col">Services</th><th scope="col">Parapheur</th><th scope="col">Administration</th></tr></thead><tbody>${collectivities
        .map(
          ([collectivity, held]) =>
            `<tr><th scope="row">${escapeHtml(collectivity)}</th><td>${held.length ? held.map((r) => roleLabels[r]).join(", ") : "Aucun rôle pour l’instant : un administrateur de la collectivité vous en attribuera."}</td><td>${servicesList(services[collectivity])}</td><td>${
              held.length ? `<a href="/collectivites/${encodeURIComponent(collectivity)}/parapheur">Mon parapheur</a>` : "—"
            }</td><td>${
              held.includes("administrateur") ? `<a href="/collectivites/${encodeURIComponent(collectivity)}/membres">Gérer les membres</a>` : "—"
            }</td></tr>`,
        )
        .join("")}</tbody></table>`
    : "";
  const companyPart = caller.company ? `<h2>Votre entreprise</h2><p>${escapeHtml(caller.company.name)} — SIRET ${escapeHtml(caller.company.siret)}</p>` : "";
  const nothing = !agentPart && !companyPart ? "<p>Votre compte n’est rattaché à aucune collectivité ni entreprise pour l’instant.</p>" : "";
  return layout("Accueil", `<h1>Bonjour</h1><p>Connecté en tant que ${escapeHtml(caller.email)}.</p>${agentPart}${companyPart}${nothing}`, { name: caller.email, csrf });
}

export interface MemberRow {
  readonly subject: string;
  readonly email: string;
  readonly givenName: string;
  readonly usualName: string;
  readonly roles: readonly Role[];
  readonly active: boolean;
}

/** A collectivity's members and their roles, each row a form an administrator sends to change them. */
export function membersPage(collectivity: string, members: readonly MemberRow[], person: { name: string; csrf: string }, notice?: { kind: "status" | "error"; text: string }): string {
  const rows = members
    .map((m) => {
      const id = m.subject.slice(0, 8);
      const boxes = roles
        .map((role) => `<label><input type="checkbox" name="roles" value="${role}"${m.roles.includes(role) ? " checked" : ""}> ${roleLabels[role]}</label>`)
        .join(" ");
      return `<tr><th scope="row">${escapeHtml(`${m.givenName} ${m.usualName}`)}<br><small>${escapeHtml(m.email)}</small></th><td>
<form method="post" action="/collectivites/${encodeURIComponent(collectivity)}/membres/${encodeURIComponent(m.subject)}">
<input type="hidden" name="csrf" value="${escapeHtml(person.csrf)}">
<fieldset><legend>Rôles de ${escapeHtml(m.email)}</legend>${boxes}</fieldset>
<button type="submit" class="primary" id="enregistrer-${id}">Enregistrer les rôles de ${escapeHtml(m.givenName)}</button>
</form></td></tr>`;
    })
    .join("");
  const message = notice ? `<div class="${notice.kind}" role="${notice.kind === "error" ? "alert" : "status"}">${escapeHtml(notice.text)}</div>` : "";
  return layout(
    "Membres",
    `<h1>Membres de ${escapeHtml(collectivity)}</h1>${message}
<table><caption>Agents et élus de la collectivité, et leurs rôles</caption><thead><tr><th scope="col">Personne</th><th scope="col">Rôles</th></tr></thead><tbody>${rows}</tbody></table>
<p><a href="/">Retour à l’accueil</a></p>`,
    person,
  );
}

export function errorPage(title: string, message: string, person?: { name: string; csrf: string }): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(message)}</p><p><a href="/">Retour à l’accueil</a></p>`, person);
}
