/**
 * The public pages of the acts published (no sign-in): rendered on the server, in French, usable
 * with a keyboard and a screen reader (language, headings, labelled fields, table captions and
 * header scopes, results announced, contrast ≥ 4.5). The hash check works in the browser; without
 * JavaScript, a SHA-256 can be typed in.
 */
import { natures } from "@mutualis/actes";
import { enforceableOn, onlineUntilAtLeast } from "./domain/enforceability.ts";
import type { Publication } from "./publications.ts";
import { escapeHtml } from "@mutualis/service-kit";

export { escapeHtml };

const style = `
  :root { color-scheme: light; font-family: system-ui, "Marianne", Arial, sans-serif; color: #161616; background: #fff; }
  body { margin: 0; line-height: 1.5; }
  a { color: #000091; }
  a:focus, button:focus, input:focus, select:focus { outline: 3px solid #0a76f6; outline-offset: 2px; }
  .skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
  header { background: #000091; color: #fff; padding: 1rem 2rem; } header a { color: #fff; }
  main { padding: 1rem 2rem 3rem; max-width: 70rem; }
  form.filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; }
  form.filters p { margin: 0; display: flex; flex-direction: column; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  caption { text-align: left; font-weight: 700; padding: .5rem 0; }
  th, td { border-bottom: 1px solid #929292; padding: .4rem .6rem; text-align: left; vertical-align: top; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; } dt { font-weight: 700; }
  .notice { border-left: 4px solid #ce0500; padding: .5rem 1rem; background: #fff4f4; }
  .ok { border-left: 4px solid #18753c; padding: .5rem 1rem; background: #f4fff7; }
  code { word-break: break-all; }
`;

function layout(title: string, body: string, head = ""): string {
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Publication des actes</title>
<style>${style}</style>
${head}
</head>
<body>
<a class="skip" href="#contenu">Aller au contenu</a>
<header><p><a href="/">Publication des actes des collectivités</a> · <a href="/verifier">Vérifier un document</a></p></header>
<main id="contenu">
${body}
</main>
</body>
</html>
`;
}

const natureLabel = (nature: number) => natures[nature as keyof typeof natures]?.label ?? `Nature ${nature}`;
const frenchDate = (iso: string) => new Date(`${iso}T12:00:00Z`).toLocaleDateString("fr-FR", { day: "numeric", month: "long", year: "numeric", timeZone: "Europe/Paris" });
const parisDate = (at: Date) => at.toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1).replace(".", ",")} Mo` : `${Math.max(1, Math.round(bytes / 1024))} ko`);

export interface CollectivityEntry {
  readonly name: string;
  readonly displayName: string;
}

export function homePage(collectivities: readonly CollectivityEntry[]): string {
  return layout(
    "Accueil",
    `<h1>Publication des actes des collectivités</h1>
<p>Depuis le 1<sup>er</sup> juillet 2022, les actes des collectivités entrent en vigueur par leur publication électronique : ils sont publiés ici en entier, dans leur version définitive, avec la date de leur mise en ligne.</p>
<h2>Collectivités</h2>
${collectivities.length === 0 ? "<p>Aucune collectivité n'a encore publié d'acte.</p>" : `<ul>${collectivities.map((c) => `<li><a href="/${encodeURIComponent(c.name)}">${escapeHtml(c.displayName)}</a></li>`).join("")}</ul>`}
<h2>Données ouvertes</h2>
<p>Les délibérations de toutes les collectivités, au format SCDL « délibérations » : <a href="/donnees-ouvertes/deliberations.csv">CSV</a> · <a href="/donnees-ouvertes/deliberations.json">JSON</a>.</p>`,
  );
}

export interface SearchFilter {
  readonly text?: string;
  readonly nature?: number;
  readonly from?: string;
  readonly to?: string;
}

export function collectivityPage(collectivity: CollectivityEntry, publications: readonly Publication[], filter: SearchFilter): string {
  const base = `/${encodeURIComponent(collectivity.name)}`;
  const filtered = filter.text || filter.nature || filter.from || filter.to;
  return layout(
    collectivity.displayName,
    `<h1>Actes publiés — ${escapeHtml(collectivity.displayName)}</h1>
<p><a href="${base}/flux.atom">Flux Atom des actes publiés</a> · Délibérations en données ouvertes (SCDL) : <a href="${base}/donnees-ouvertes/deliberations.csv">CSV</a> · <a href="${base}/donnees-ouvertes/deliberations.json">JSON</a></p>
<form class="filters" method="get" action="${base}" role="search" aria-label="Rechercher un acte">
<p><label for="q">Texte (objet ou numéro)</label><input id="q" name="q" type="search" value="${escapeHtml(filter.text ?? "")}"></p>
<p><label for="nature">Nature</label><select id="nature" name="nature"><option value="">Toutes</option>${Object.entries(natures)
      .map(([code, n]) => `<option value="${code}"${filter.nature === Number(code) ? " selected" : ""}>${escapeHtml(n.label)}</option>`)
      .join("")}</select></p>
<p><label for="du">Du (date de l'acte)</label><input id="du" name="du" type="date" value="${escapeHtml(filter.from ?? "")}"></p>
<p><label for="au">Au</label><input id="au" name="au" type="date" value="${escapeHtml(filter.to ?? "")}"></p>
<p><button type="submit">Rechercher</button></p>
</form>
<p role="status">${publications.length === 0 ? "Aucun acte publié" : `${publications.length} acte${publications.length > 1 ? "s" : ""} publié${publications.length > 1 ? "s" : ""}`}${filtered ? " pour cette recherche" : ""}.</p>
${
  publications.length === 0
    ? ""
    : `<table>
<caption>Actes publiés, les plus récents d'abord</caption>
<thead><tr><th scope="col">Objet</th><th scope="col">Nature</th><th scope="col">Date de l'acte</th><th scope="col">Mis en ligne le</th><th scope="col">Exécutoire le</th></tr></thead>
<tbody>
${publications
  .map((p) => {
    const enforceable = p.withdrawn ? undefined : enforceableOn({ publishedOn: parisDate(p.publishedAt), controlled: p.controlled, ...(p.acknowledgedOn ? { acknowledgedOn: p.acknowledgedOn } : {}) });
    return `<tr><th scope="row"><a href="${base}/actes/${p._id}">${escapeHtml(p.objet)}</a>${p.withdrawn ? " (retiré)" : ""}</th><td>${escapeHtml(natureLabel(p.nature))}</td><td>${frenchDate(p.date)}</td><td>${frenchDate(parisDate(p.publishedAt))}</td><td>${enforceable ? frenchDate(enforceable) : "—"}</td></tr>`;
  })
  .join("\n")}
</tbody>
</table>`
}`,
  );
}

export function actPage(collectivity: CollectivityEntry, p: Publication): string {
  const base = `/${encodeURIComponent(collectivity.name)}`;
  const publishedOn = parisDate(p.publishedAt);
  const enforceable = enforceableOn({ publishedOn, controlled: p.controlled, ...(p.acknowledgedOn ? { acknowledgedOn: p.acknowledgedOn } : {}) });
  return layout(
    p.objet,
    `<p><a href="${base}">← Actes publiés de ${escapeHtml(collectivity.displayName)}</a></p>
<h1>${escapeHtml(p.objet)}</h1>
${p.withdrawn ? `<div class="notice" role="note"><p><strong>Acte retiré de la publication le ${frenchDate(parisDate(p.withdrawn.at))}.</strong> Motif : ${escapeHtml(p.withdrawn.reason)}</p></div>` : ""}
<dl>
<dt>Collectivité</dt><dd>${escapeHtml(collectivity.displayName)}</dd>
<dt>Nature</dt><dd>${escapeHtml(natureLabel(p.nature))}</dd>
<dt>Numéro</dt><dd>${escapeHtml(p.numeroInterne)}</dd>
<dt>Date de l'acte</dt><dd>${frenchDate(p.date)}</dd>
<dt>Matière</dt><dd>${escapeHtml(p.classification)}${p.matiere ? ` — ${escapeHtml(p.matiere.join(" / "))}` : ""}</dd>
${p.author ? `<dt>Auteur</dt><dd>${escapeHtml(p.author.name)}${p.author.role ? `, ${escapeHtml(p.author.role)}` : ""}</dd>` : ""}
<dt>Transmission au contrôle de légalité</dt><dd>${p.controlled ? `identifiant ${escapeHtml(p.identifier)}${p.acknowledgedOn ? `, accusé de réception du ${frenchDate(p.acknowledgedOn)}` : ""}` : "acte non transmis"}</dd>
<dt>Mis en ligne le</dt><dd>${frenchDate(publishedOn)}</dd>
<dt>Exécutoire le</dt><dd>${enforceable ? frenchDate(enforceable) : "pas encore"}</dd>
<dt>En ligne au moins jusqu'au</dt><dd>${frenchDate(onlineUntilAtLeast(publishedOn))}</dd>
<dt>Empreinte SHA-256 du fichier</dt><dd><code>${p.file.sha256}</code></dd>
</dl>
${
  p.withdrawn
    ? ""
    : `<p><a href="${base}/actes/${p._id}/fichier" download="${escapeHtml(p.file.fileName)}">Télécharger l'acte (${escapeHtml(p.file.fileName)}, ${p.file.mimeType === "application/pdf" ? "PDF" : "XML"}, ${size(p.file.size)})</a></p>
<p>Pour vous assurer qu'un fichier est bien celui publié ici, <a href="/verifier">vérifiez-le</a>.</p>`
}`,
  );
}

export interface HashMatch {
  readonly collectivity: CollectivityEntry;
  readonly publication: Publication;
}

/** What the hash check found, as the page and the JSON lookup give it. */
export function hashMatches(matches: readonly HashMatch[]) {
  return matches.map(({ collectivity, publication: p }) => ({
    collectivity: collectivity.displayName,
    objet: p.objet,
    url: `/${encodeURIComponent(collectivity.name)}/actes/${p._id}`,
    publishedOn: parisDate(p.publishedAt),
    ...(p.withdrawn ? { withdrawnOn: parisDate(p.withdrawn.at) } : {}),
  }));
}

/** What the check found, as a fragment of the page (the page's script asks for it alone). */
export function hashResult(sha256: string, matches: readonly HashMatch[]): string {
  if (matches.length === 0) return `<div class="notice"><p>Aucun acte publié n'a ce fichier (empreinte <code>${escapeHtml(sha256)}</code>) : il a pu être modifié.</p></div>`;
  return `<div class="ok"><p>Ce fichier est celui publié :</p><ul>${hashMatches(matches)
    .map((m) => `<li><a href="${m.url}">${escapeHtml(m.objet)}</a>, ${escapeHtml(m.collectivity)}, mis en ligne le ${frenchDate(m.publishedOn)}${m.withdrawnOn ? ` (retiré le ${frenchDate(m.withdrawnOn)})` : ""}</li>`)
    .join("")}</ul></div>`;
}

/**
 * The check of a file: its SHA-256 computed in the browser (the file never leaves the citizen's
 * computer), then looked up; without JavaScript, a SHA-256 typed in is looked up by the server.
 */
/** The check's script, served as a file of its own (the pages' policy allows no inline script). */
export const verifyScript = `
document.getElementById("fichier").addEventListener("change", async (event) => {
  const out = document.getElementById("resultat");
  const file = event.target.files[0];
  if (!file) return;
  out.textContent = "Calcul de l'empreinte…";
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  document.getElementById("empreinte").value = sha256;
  const res = await fetch("/empreintes/" + sha256, { headers: { accept: "text/html" } });
  out.innerHTML = await res.text();
});
`;

export function verifyPage(result?: { sha256: string; matches: readonly HashMatch[] }): string {
  return layout(
    "Vérifier un document",
    `<h1>Vérifier qu'un document est celui publié</h1>
<p>Choisissez le fichier : son empreinte SHA-256 est calculée dans votre navigateur (le fichier n'est pas envoyé), puis comparée à celles des actes publiés.</p>
<p><label for="fichier">Fichier à vérifier</label><br><input id="fichier" type="file"></p>
<form method="get" action="/verifier">
<p><label for="empreinte">Ou son empreinte SHA-256 (64 caractères hexadécimaux)</label><br><input id="empreinte" name="empreinte" size="70" pattern="[0-9a-fA-F]{64}" value="${escapeHtml(result?.sha256 ?? "")}"> <button type="submit">Vérifier</button></p>
</form>
<div id="resultat" role="status" aria-live="polite">${result ? hashResult(result.sha256, result.matches) : ""}</div>
<script type="module" src="/verifier.js"></script>`,
  );
}

export function notFoundPage(message: string): string {
  return layout("Introuvable", `<h1>Introuvable</h1><p>${escapeHtml(message)}</p>`);
}
