/**
 * The observatory's pages, rendered on the server: plain HTML an elected official can read, in
 * French, usable with a keyboard and a screen reader (RGAA basics: language, headings, table
 * captions and header scopes, sort state announced, text alternatives for charts, contrast ≥ 4.5).
 */
import { formatValue, indicators, type Report, type Row, type Unit } from "./indicators.ts";
import type { Series } from "./prometheus.ts";
import { escapeHtml } from "@mutualis/service-kit";

export { escapeHtml };

const style = `
  :root { color-scheme: light; font-family: system-ui, "Marianne", Arial, sans-serif; color: #161616; background: #fff; }
  body { margin: 0; line-height: 1.5; }
  a { color: #000091; }
  a:focus, button:focus { outline: 3px solid #0a76f6; outline-offset: 2px; }
  .skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
  header { background: #000091; color: #fff; padding: 1rem 2rem; } header a { color: #fff; }
  main { padding: 1rem 2rem 3rem; max-width: 80rem; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 1rem; list-style: none; padding: 0; }
  .card { border: 1px solid #929292; border-radius: 4px; padding: .75rem 1rem; }
  .card .value { font-size: 1.75rem; font-weight: 700; display: block; }
  .card .note { color: #3a3a3a; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  caption { text-align: left; font-weight: 700; padding: .5rem 0; }
  th, td { border-bottom: 1px solid #929292; padding: .4rem .6rem; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  th a { text-decoration: none; } th a:hover { text-decoration: underline; }
  .unmeasured { color: #3a3a3a; font-style: italic; }
  svg { max-width: 100%; height: auto; border: 1px solid #929292; }
`;

function layout(title: string, region: string, body: string): string {
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Observatoire de la dématérialisation</title>
<style>${style}</style>
</head>
<body>
<a class="skip" href="#contenu">Aller au contenu</a>
<header><p><a href="/">Observatoire de la dématérialisation — ${escapeHtml(region)}</a></p></header>
<main id="contenu">
${body}
</main>
</body>
</html>
`;
}

function card(label: string, value: string, note: string): string {
  return `<li class="card"><span>${escapeHtml(label)}</span><span class="value">${escapeHtml(value)}</span><span class="note">${escapeHtml(note)}</span></li>`;
}

function cards(report: Report, values: Record<string, number | null>): string {
  return `<ul class="cards">${report.indicators
    .map((i) =>
      !i.measured
        ? card(i.label, "Non mesuré", `Pas encore : ${i.notMeasured}.`)
        : i.unavailable
          ? card(i.label, "Indisponible", "Momentanément indisponible : la mesure n'a pas pu être lue. Réessayez dans quelques minutes.")
          : card(i.label, formatValue(values[i.key] ?? null, i.unit), i.description),
    )
    .join("")}</ul>`;
}

/** A table cell's text: the value, or "indisponible" when its indicator could not be read. */
function shown(report: Report, key: string, value: number | null, unit: Unit): string {
  return report.indicators.find((i) => i.key === key)?.unavailable ? "indisponible" : formatValue(value, unit);
}

/** Communes, EPCI, départements, régions…: each category's indicators, all its collectivities together. */
function categoryTable(report: Report): string {
  const measured = indicators.filter((i) => !i.notMeasured);
  return `<table>
<caption>Par catégorie, sur ${report.windowDays} jours</caption>
<thead><tr><th scope="col">Catégorie</th><th scope="col">Collectivités</th>${measured.map((i) => `<th scope="col">${escapeHtml(i.label)}</th>`).join("")}</tr></thead>
<tbody>
${report.categories
  .map((c) => `<tr><th scope="row">${escapeHtml(c.label)}</th><td>${c.collectivities}</td>${measured.map((i) => `<td>${escapeHtml(shown(report, i.key, c.values[i.key] ?? null, i.unit))}</td>`).join("")}</tr>`)
  .join("\n")}
</tbody>
</table>`;
}

/** The region's overview and the table of collectivities, sortable by any measured indicator. */
export function overviewPage(report: Report, rows: Row[], sortKey: string | undefined, descending: boolean): string {
  const measured = indicators.filter((i) => !i.notMeasured);
  const sortLink = (key: string, label: string) => {
    const active = sortKey === key || (!sortKey && key === "nom");
    const nextDescending = active ? !descending : key !== "nom";
    const state = active ? (descending ? "descending" : "ascending") : "none";
    return `<th scope="col" aria-sort="${state}"><a href="/?tri=${key}&amp;ordre=${nextDescending ? "desc" : "asc"}">${escapeHtml(label)}${active ? (descending ? " ▼" : " ▲") : ""}</a></th>`;
  };
  const table = `<table>
<caption>${rows.length === 1 ? "La collectivité" : `Les ${rows.length} collectivités`}, sur ${report.windowDays} jours (cliquer un titre de colonne pour trier)</caption>
<thead><tr>${sortLink("nom", "Collectivité")}<th scope="col">Catégorie</th>${measured.map((i) => sortLink(i.key, i.label)).join("")}</tr></thead>
<tbody>
${rows
  .map(
    (r) =>
      `<tr><td><a href="/collectivites/${encodeURIComponent(r.name)}">${escapeHtml(r.displayName)}</a></td><td>${escapeHtml(r.category)}</td>${measured
        .map((i) => `<td>${escapeHtml(shown(report, i.key, r.values[i.key] ?? null, i.unit))}</td>`)
        .join("")}</tr>`,
  )
  .join("\n")}
</tbody>
</table>`;
  return layout(
    "Vue régionale",
    report.region,
    `<h1>La dématérialisation en ${escapeHtml(report.region)}</h1>
<p>Ce que les collectivités font déjà en ligne, d'après les services de la plateforme mutualisée, sur les ${report.windowDays} derniers jours. Données du ${escapeHtml(new Date(report.generatedAt).toLocaleString("fr-FR", { timeZone: "Europe/Paris" }))}.</p>
<h2>Toute la région</h2>
${cards(report, report.regionValues)}
<h2>Par catégorie de collectivité</h2>
${categoryTable(report)}
<h2>Par collectivité</h2>
<p>Télécharger : <a href="/export.csv" download>le tableau (CSV)</a>, <a href="/export.json" download>les données (JSON)</a>.</p>
${table}`,
  );
}

/** A running total as an SVG line ending on a dot, with a text alternative and its points in a table. */
function chart(id: string, title: string, unit: "count" | "bytes", series: Series | undefined): string {
  const points = series?.points ?? [];
  if (points.length === 0) return `<h3 id="${id}">${escapeHtml(title)}</h3><p>Aucune donnée sur la période.</p>`;
  const width = 640;
  const height = 160;
  const max = Math.max(...points.map(([, v]) => v), 1);
  const [t0] = points[0]!;
  const span = Math.max(points.at(-1)![0] - t0, 1);
  const path = points.map(([t, v], i) => `${i === 0 ? "M" : "L"}${(((t - t0) / span) * (width - 20) + 10).toFixed(1)},${(height - 10 - (v / max) * (height - 20)).toFixed(1)}`).join(" ");
  const latest = points.at(-1)![1];
  const when = (t: number) => new Date(t * 1000).toLocaleDateString("fr-FR", { timeZone: "Europe/Paris", day: "numeric", month: "long" });
  const [x, y] = path.split(" ").at(-1)!.slice(1).split(",");
  return `<h3 id="${id}">${escapeHtml(title)}</h3>
<svg role="img" aria-labelledby="${id} ${id}-desc" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<desc id="${id}-desc">Dernière valeur : ${escapeHtml(formatValue(latest, unit))}, le ${escapeHtml(when(points.at(-1)![0]))} ; au début de la période : ${escapeHtml(formatValue(points[0]![1], unit))}.</desc>
<path d="${path}" fill="none" stroke="#000091" stroke-width="2"/>
<circle cx="${x}" cy="${y}" r="4" fill="#000091"/>
</svg>
<details><summary>Les valeurs</summary><table><caption>${escapeHtml(title)}</caption><thead><tr><th scope="col">Jour</th><th scope="col">Valeur</th></tr></thead><tbody>
${points.map(([t, v]) => `<tr><td>${escapeHtml(when(t))}</td><td>${escapeHtml(formatValue(v, unit))}</td></tr>`).join("")}
</tbody></table></details>`;
}

export function collectivityPage(report: Report, row: Row, acts: Series | undefined, exchanges: Series | undefined): string {
  return layout(
    row.displayName,
    report.region,
    `<p><a href="/">← Toutes les collectivités</a></p>
<h1>${escapeHtml(row.displayName)}</h1>
<p>${escapeHtml(row.category)} — département ${escapeHtml(row.departement)}, sur les ${report.windowDays} derniers jours.</p>
<h2>Indicateurs</h2>
${cards(report, row.values)}
<h2>Évolution sur ${report.windowDays} jours</h2>
${chart("serie-actes", "Actes télétransmis, en cumul", "count", acts)}
${chart("serie-echanges", "Volume déposé dans des partages sécurisés, en cumul", "bytes", exchanges)}`,
  );
}
