/**
 * The parapheur's pages: a signer's desk (the folders waiting for them, those they sent, their
 * delegations) and a folder (its document, its circuit, its history, and what they may do:
 * visa, sign after their second factor, reject with a reason). French, accessible, server-rendered.
 */
import { escapeHtml, layout } from "./pages.ts";

type Person = { name: string; csrf: string };
export type Notice = { kind: "status" | "error"; text: string };

/** iParapheur's states, as French agents read them. */
export const stateLabels: Readonly<Record<string, string>> = {
  DRAFT: "Brouillon",
  PENDING: "En cours",
  CURRENT: "À traiter",
  LATE: "En retard",
  DELEGATED: "Par délégation",
  UPCOMING: "À venir",
  VALIDATED: "Validé",
  BYPASSED: "Étape passée outre",
  SECONDED: "Avis demandé",
  TRANSFERRED: "Transféré",
  REJECTED: "Rejeté",
  FINISHED: "Terminé",
};
const stepLabels: Readonly<Record<string, string>> = { VISA: "Visa", SIGNATURE: "Signature", SEAL: "Cachet de la collectivité" };
const actionLabels: Readonly<Record<string, string>> = {
  created: "Créé",
  started: "Envoyé dans le circuit",
  retrieved: "Repris par l’émetteur",
  visa: "Visé",
  signature: "Signé",
  seal: "Cachet apposé",
  rejection: "Rejeté",
  bypass: "Étape passée outre par un administrateur",
  transfer: "Transféré à un autre bureau",
  "second-opinion": "Avis demandé à un autre bureau",
};

export interface FolderRow {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly state: string;
  readonly dueDate?: string;
  readonly currentStep?: { readonly type: string; readonly waitingFor: readonly string[] };
  readonly emitter: { readonly desk: string; readonly by: string };
}

export interface FolderView extends FolderRow {
  readonly steps: readonly { type: string; desks: readonly string[]; quorum: number; state: string; actions: readonly { kind: string; desk?: string; by: string; delegate?: string; at: string; reason?: string }[] }[];
  readonly documents: readonly { index: number; name: string; mimeType: string; size: number; sha256: string; signatures: readonly { by: string; commonName: string; at: string; kind: string }[] }[];
  readonly history: readonly { at: string; by: string; action: string; desk?: string; delegate?: string; reason?: string }[];
  readonly rejection?: { readonly reason: string; readonly desk: string };
}

export interface DeskRow {
  readonly id: string;
  readonly name: string;
  readonly owners: readonly string[];
  readonly delegations: readonly { to: string; from: string; until: string }[];
}

const paris = (iso: string) => new Date(iso).toLocaleString("fr-FR", { timeZone: "Europe/Paris", dateStyle: "short", timeStyle: "short" });
const parisDay = (iso: string) => new Date(iso).toLocaleDateString("fr-FR", { timeZone: "Europe/Paris" });
const base = (collectivity: string) => `/collectivites/${encodeURIComponent(collectivity)}/parapheur`;
const message = (notice?: Notice) => (notice ? `<div class="${notice.kind}" role="${notice.kind === "error" ? "alert" : "status"}">${escapeHtml(notice.text)}</div>` : "");
const csrfField = (person: Person) => `<input type="hidden" name="csrf" value="${escapeHtml(person.csrf)}">`;

function folderTable(collectivity: string, caption: string, rows: readonly FolderRow[], empty: string): string {
  if (rows.length === 0) return `<h2>${escapeHtml(caption)}</h2><p>${escapeHtml(empty)}</p>`;
  return `<table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Dossier</th><th scope="col">Type</th><th scope="col">État</th><th scope="col">Étape en cours</th><th scope="col">Échéance</th></tr></thead><tbody>${rows
    .map(
      (f) =>
        `<tr><th scope="row"><a href="${base(collectivity)}/dossiers/${encodeURIComponent(f.id)}">${escapeHtml(f.name)}</a></th><td>${escapeHtml(f.type)}</td><td>${escapeHtml(stateLabels[f.state] ?? f.state)}</td><td>${
          f.currentStep ? `${escapeHtml(stepLabels[f.currentStep.type] ?? f.currentStep.type)} (${escapeHtml(f.currentStep.waitingFor.join(", "))})` : "—"
        }</td><td>${f.dueDate ? escapeHtml(parisDay(`${f.dueDate}T12:00:00Z`)) : "—"}</td></tr>`,
    )
    .join("")}</tbody></table>`;
}

/** A signer's desk: what waits for them, what they sent and where it stands, and their desks' delegations. */
export function deskPage(collectivity: string, person: Person, waiting: readonly FolderRow[], started: readonly FolderRow[], desks: readonly DeskRow[], notice?: Notice): string {
  const delegations = desks.length
    ? `<h2>Vos délégations</h2>${desks
        .map((desk) => {
          const current = desk.delegations[0];
          return `<section aria-labelledby="bureau-${escapeHtml(desk.id)}"><h3 id="bureau-${escapeHtml(desk.id)}">Bureau « ${escapeHtml(desk.name)} »</h3>
<p>${current ? `Délégation au bureau ${escapeHtml(current.to)} du ${escapeHtml(paris(current.from))} au ${escapeHtml(paris(current.until))}.` : "Aucune délégation."}</p>
<form method="post" action="${base(collectivity)}/bureaux/${encodeURIComponent(desk.id)}/delegation">${csrfField(person)}
<p><label for="to-${escapeHtml(desk.id)}">Déléguer au bureau (identifiant)</label><br><input id="to-${escapeHtml(desk.id)}" name="to" required pattern="[a-z0-9-]+" value="${escapeHtml(current?.to ?? "")}"></p>
<p><label for="from-${escapeHtml(desk.id)}">Du (inclus)</label><br><input type="date" id="from-${escapeHtml(desk.id)}" name="from" required></p>
<p><label for="until-${escapeHtml(desk.id)}">Au (inclus)</label><br><input type="date" id="until-${escapeHtml(desk.id)}" name="until" required></p>
<button type="submit" class="primary">Enregistrer la délégation du bureau ${escapeHtml(desk.name)}</button></form>
${current ? `<form method="post" action="${base(collectivity)}/bureaux/${encodeURIComponent(desk.id)}/delegation">${csrfField(person)}<input type="hidden" name="end" value="1"><button type="submit">Mettre fin à la délégation du bureau ${escapeHtml(desk.name)}</button></form>` : ""}</section>`;
        })
        .join("")}`
    : "";
  return layout(
    "Parapheur",
    `<h1>Parapheur de ${escapeHtml(collectivity)}</h1>${message(notice)}
${folderTable(collectivity, "Dossiers à traiter", waiting, "Aucun dossier ne vous attend.")}
${folderTable(collectivity, "Dossiers que vous avez émis", started, "Vous n’avez émis aucun dossier.")}
${delegations}
<p><a href="/">Retour à l’accueil</a></p>`,
    person,
  );
}

/**
 * A folder: its documents (each opens in the browser's reader), its circuit step by step, its history, and the
 * forms for what the person may do at the current step. Signing asks for the code of their
 * authenticator application; a person without one enrols it here first.
 */
export function folderPage(
  collectivity: string,
  person: Person,
  folder: FolderView,
  can: { readonly visa: boolean; readonly sign: boolean; readonly reject: boolean },
  secondFactor: { readonly enrolled: boolean; readonly enrolment?: { secret: string; uri: string } },
  notice?: Notice,
): string {
  const here = `${base(collectivity)}/dossiers/${encodeURIComponent(folder.id)}`;
  const documents = folder.documents
    .map(
      (d) => `<li><a href="${here}/documents/${d.index}" target="_blank" rel="noopener">${escapeHtml(d.name)} (s’ouvre dans un nouvel onglet)</a> (${Math.ceil(d.size / 1024)} Kio, SHA-256 <code>${escapeHtml(d.sha256)}</code>)${
        d.signatures.length ? ` — ${d.signatures.map((s) => `${s.kind === "seal" ? "cachet" : "signé par"} ${escapeHtml(s.commonName)} le ${escapeHtml(paris(s.at))}`).join(" ; ")}` : ""
      }${d.signatures.length ? ` — <a href="${here}/documents/${d.index}?version=signe">version signée</a>` : ""}</li>`,
    )
    .join("");
  const steps = `<ol>${folder.steps
    .map(
      (s) =>
        `<li>${escapeHtml(stepLabels[s.type] ?? s.type)}${s.desks.length ? ` — ${escapeHtml(s.desks.join(", "))}` : ""}${s.quorum > 1 ? ` (${s.quorum} sur ${s.desks.length})` : ""} : <strong>${escapeHtml(
          stateLabels[s.state] ?? s.state,
        )}</strong></li>`,
    )
    .join("")}</ol>`;
  const history = `<table><caption>Historique</caption><thead><tr><th scope="col">Date</th><th scope="col">Action</th><th scope="col">Par</th><th scope="col">Motif ou commentaire</th></tr></thead><tbody>${folder.history
    .map(
      (h) =>
        `<tr><td>${escapeHtml(paris(h.at))}</td><td>${escapeHtml(actionLabels[h.action] ?? h.action)}${h.desk ? ` (bureau ${escapeHtml(h.desk)}${h.delegate ? `, par délégation au bureau ${escapeHtml(h.delegate)}` : ""})` : ""}</td><td>${escapeHtml(h.by)}</td><td>${escapeHtml(h.reason ?? "")}</td></tr>`,
    )
    .join("")}</tbody></table>`;
  const actions: string[] = [];
  if (can.visa) {
    actions.push(`<form method="post" action="${here}/viser">${csrfField(person)}<p><label for="commentaire">Commentaire (facultatif)</label><br><textarea id="commentaire" name="comment" rows="2" cols="60"></textarea></p><button type="submit" class="primary">Viser le dossier</button></form>`);
  }
  if (can.sign) {
    const enrolment = secondFactor.enrolment
      ? `<p>Ajoutez ce compte à votre application d’authentification : clé <code id="cle">${escapeHtml(secondFactor.enrolment.secret)}</code> (adresse <code>${escapeHtml(secondFactor.enrolment.uri)}</code>), puis saisissez le code qu’elle affiche.</p>`
      : "";
    actions.push(
      secondFactor.enrolled || secondFactor.enrolment
        ? `<form method="post" action="${here}/signer">${csrfField(person)}${enrolment}<p><label for="code">Code de votre application d’authentification (6 chiffres)</label><br><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required></p><button type="submit" class="primary">Signer le dossier</button></form>`
        : `<form method="post" action="${base(collectivity)}/second-facteur">${csrfField(person)}<input type="hidden" name="dossier" value="${escapeHtml(folder.id)}"><p>Pour signer, confirmez avec une application d’authentification : vous n’en avez pas encore.</p><button type="submit" class="primary">Configurer mon application d’authentification</button></form>`,
    );
  }
  if (can.reject) {
    actions.push(`<form method="post" action="${here}/rejeter">${csrfField(person)}<p><label for="motif">Motif du rejet</label><br><textarea id="motif" name="reason" rows="2" cols="60" required></textarea></p><button type="submit">Rejeter le dossier</button></form>`);
  }
  return layout(
    folder.name,
    `<h1>${escapeHtml(folder.name)}</h1>${message(notice)}
<p>État : <strong>${escapeHtml(stateLabels[folder.state] ?? folder.state)}</strong>${folder.dueDate ? ` — échéance le ${escapeHtml(parisDay(`${folder.dueDate}T12:00:00Z`))}` : ""}. Émis par ${escapeHtml(folder.emitter.by)} (bureau ${escapeHtml(folder.emitter.desk)}).</p>
${folder.rejection ? `<p class="error">Rejeté par le bureau ${escapeHtml(folder.rejection.desk)} : ${escapeHtml(folder.rejection.reason)}</p>` : ""}
<h2>Documents</h2><p>Chaque document s’ouvre dans le lecteur de votre navigateur.</p><ul>${documents}</ul>
<h2>Circuit</h2>${steps}
${actions.length ? `<h2>Vos actions</h2>${actions.join("")}` : ""}
${history}
<p><a href="${base(collectivity)}">Retour au parapheur</a></p>`,
    person,
  );
}
