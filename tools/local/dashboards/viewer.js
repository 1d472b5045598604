// @ts-check
/**
 * The Helm chart's Grafana dashboards, drawn from the local Prometheus. The dashboards are read as
 * the chart ships them (dashboards/index.json lists them); the panels' queries go to the
 * Prometheus that serves this page (its --web.user-assets), so the page needs no other server.
 *
 * What Grafana would do and this viewer does too: the dashboard's time range and refresh, its
 * query variables (label_values), $__rate_interval, $__interval and $__range, legends, units, the
 * panels' places on the 24-column grid. Each panel says its state (data-state: loading, data,
 * empty, error) for people and for the tests.
 */

const api = new URL("../api/v1/", location.href);
const palette = ["#000091", "#e1000f", "#18753c", "#b34000", "#6a6af4", "#009081", "#a558a0", "#716043", "#c3992a", "#0063cb"];
/** The platform's scrape interval: $__rate_interval is never shorter than four of them. */
const scrapeSeconds = 15;
const points = 300;

/** @param {string} path @param {Record<string, string | string[]>} params */
async function prometheus(path, params) {
  const url = new URL(path, api);
  for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) url.searchParams.append(name, v);
  const answer = await fetch(url);
  const body = await answer.json().catch(() => ({ status: "error", error: `HTTP ${answer.status}` }));
  if (body.status !== "success") throw new Error(body.error ?? `HTTP ${answer.status}`);
  return body.data;
}

/** "now-6h" → seconds. @param {string} from */
function rangeSeconds(from) {
  const match = /^now-(\d+)([smhdw])$/.exec(from ?? "");
  if (!match) return 6 * 3600;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[/** @type {"s"} */ (match[2])];
}

/** @param {string} text @param {Record<string, string>} values */
function interpolate(text, values) {
  return text.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced, plain) => values[braced ?? plain] ?? whole);
}

/** "{{service}} {{outcome}}" with a series' labels. @param {string | undefined} format @param {Record<string, string>} metric */
function legend(format, metric) {
  if (format) return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => metric[name] ?? "");
  const labels = Object.entries(metric).filter(([name]) => name !== "__name__").map(([name, value]) => `${name}="${value}"`);
  return `${metric.__name__ ?? ""}{${labels.join(", ")}}`;
}

const number = new Intl.NumberFormat("fr-FR", { maximumSignificantDigits: 3 });

/** A value in the panel's unit, as Grafana would write it. @param {number} value @param {string} unit */
function format(value, unit) {
  if (!Number.isFinite(value)) return String(value);
  const scaled = (/** @type {[number, string][]} */ steps, /** @type {string} */ base) => {
    for (const [size, suffix] of steps) if (Math.abs(value) >= size) return `${number.format(value / size)} ${suffix}`;
    return `${number.format(value)} ${base}`.trim();
  };
  switch (unit) {
    case "s":
      return value !== 0 && Math.abs(value) < 1 ? `${number.format(value * 1000)} ms` : `${number.format(value)} s`;
    case "bytes":
      return scaled([[2 ** 30, "Gio"], [2 ** 20, "Mio"], [2 ** 10, "Kio"]], "o");
    case "ops":
      return `${number.format(value)} op/s`;
    case "reqps":
      return `${number.format(value)} req/s`;
    default:
      return scaled([[1e9, "G"], [1e6, "M"], [1e3, "k"]], "");
  }
}

/** @param {string} name @param {Record<string, string>} attributes @param {(Node | string)[]} children */
function svg(name, attributes = {}, children = []) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

/** @param {string} name @param {Record<string, string>} attributes @param {(Node | string)[]} children */
function html(name, attributes = {}, children = []) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

/**
 * @typedef {{ name: string, values: [number, number][] }} Series
 * @param {Series[]} series @param {string} unit @param {number} start @param {number} end
 */
function chart(series, unit, start, end) {
  const width = 600, height = 180, left = 70, bottom = 18;
  const values = series.flatMap((s) => s.values.map(([, v]) => v));
  let low = Math.min(0, ...values), high = Math.max(...values);
  if (high === low) high = low + 1;
  const x = (/** @type {number} */ t) => left + ((t - start) / (end - start)) * (width - left - 4);
  const y = (/** @type {number} */ v) => 4 + (1 - (v - low) / (high - low)) * (height - bottom - 8);
  const axis = [
    svg("line", { x1: String(left), y1: String(y(low)), x2: String(width - 4), y2: String(y(low)), stroke: "#999" }),
    svg("text", { x: String(left - 4), y: String(y(high) + 8), "text-anchor": "end" }, [format(high, unit)]),
    svg("text", { x: String(left - 4), y: String(y(low)), "text-anchor": "end" }, [format(low, unit)]),
    svg("text", { x: String(left), y: String(height - 2) }, [new Date(start * 1000).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" })]),
    svg("text", { x: String(width - 4), y: String(height - 2), "text-anchor": "end" }, [new Date(end * 1000).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" })]),
  ];
  const lines = series.map((s, i) => {
    const colour = palette[i % palette.length] ?? "#000";
    const path = s.values.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    // A series of one point is drawn as a dot: a line needs two.
    return s.values.length === 1
      ? svg("circle", { cx: String(x(s.values[0][0])), cy: String(y(s.values[0][1])), r: "2.5", fill: colour, "data-series": s.name })
      : svg("polyline", { points: path, fill: "none", stroke: colour, "stroke-width": "1.5", "data-series": s.name });
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Courbes : ${series.map((s) => s.name).join(", ")}` }, [...axis, ...lines]);
}

/**
 * @typedef {{ expr: string, legendFormat?: string }} Target
 * @typedef {{ type: string, title: string, description?: string, gridPos?: { h: number, w: number, x: number, y: number }, targets?: Target[], fieldConfig?: { defaults?: { unit?: string } } }} Panel
 * @param {Panel} panel @param {HTMLElement} section @param {{ start: number, end: number, step: number, values: Record<string, string> }} context
 */
async function draw(panel, section, context) {
  const body = /** @type {HTMLElement} */ (section.querySelector(".body"));
  const unit = panel.fieldConfig?.defaults?.unit ?? "none";
  const { start, end, step, values } = context;
  try {
    if (panel.type === "stat") {
      const [target] = panel.targets ?? [];
      const result = target ? await prometheus("query", { query: interpolate(target.expr, values), time: String(end) }) : { result: [] };
      const value = result.result[0]?.value?.[1];
      section.dataset.state = value === undefined ? "empty" : "data";
      body.replaceChildren(value === undefined ? html("p", { class: "empty" }, ["Pas de données"]) : html("p", { class: "stat" }, [format(Number(value), unit)]));
      return;
    }
    /** @type {Series[]} */
    const series = [];
    for (const target of panel.targets ?? []) {
      const data = await prometheus("query_range", { query: interpolate(target.expr, values), start: String(start), end: String(end), step: String(step) });
      for (const s of data.result) {
        const points = s.values.map(([t, v]) => /** @type {[number, number]} */ ([Number(t), Number(v)])).filter(([, v]) => Number.isFinite(v));
        if (points.length > 0) series.push({ name: legend(target.legendFormat, s.metric), values: points });
      }
    }
    section.dataset.state = series.length === 0 ? "empty" : "data";
    if (series.length === 0) {
      body.replaceChildren(html("p", { class: "empty" }, ["Pas de données"]));
      return;
    }
    const items = series.map((s, i) => html("li", { style: `--colour: ${palette[i % palette.length]}` }, [s.name || "(sans nom)"]));
    body.replaceChildren(chart(series, unit, start, end), html("ul", { class: "legend", "aria-label": "Légende" }, items));
  } catch (error) {
    section.dataset.state = "error";
    body.replaceChildren(html("p", { class: "error", role: "alert" }, [`Requête en échec : ${error instanceof Error ? error.message : String(error)}`]));
  }
}

/** @param {{ name: string, label?: string, query?: string | { query: string } }} variable @param {Record<string, string>} values */
async function options(variable, values) {
  const query = typeof variable.query === "string" ? variable.query : variable.query?.query ?? "";
  const match = /^label_values\(\s*(?:(.+),\s*)?(\w+)\s*\)$/.exec(query.trim());
  if (!match) return [];
  const [, selector, label] = match;
  const data = await prometheus(`label/${label}/values`, selector ? { "match[]": interpolate(selector, values) } : {});
  return /** @type {string[]} */ (data).sort();
}

async function main() {
  const list = /** @type {{ file: string, uid: string, title: string }[]} */ (await (await fetch("dashboards/index.json")).json());
  const params = new URLSearchParams(location.search);
  const chosen = list.find((d) => d.uid === params.get("dashboard")) ?? list[0];
  if (!chosen) return;
  document.getElementById("dashboards")?.replaceChildren(
    ...list.map((d) => html("li", {}, [html("a", { href: `?dashboard=${encodeURIComponent(d.uid)}`, ...(d === chosen ? { "aria-current": "page" } : {}) }, [d.title])])),
  );
  const dashboard = await (await fetch(`dashboards/${chosen.file}`)).json();
  document.title = `${dashboard.title} — Mutualis`;
  /** @type {HTMLElement} */ (document.getElementById("title")).textContent = dashboard.title;
  /** @type {HTMLElement} */ (document.getElementById("description")).textContent = dashboard.description ?? "";

  /** @type {Record<string, string>} */
  const values = {};
  const form = /** @type {HTMLElement} */ (document.getElementById("variables"));
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue;
    const choices = await options(variable, values);
    const wanted = params.get(`var-${variable.name}`);
    values[variable.name] = wanted && choices.includes(wanted) ? wanted : choices[0] ?? "";
    const select = html("select", { id: `var-${variable.name}`, name: `var-${variable.name}` }, choices.map((c) => html("option", c === values[variable.name] ? { selected: "" } : {}, [c])));
    select.addEventListener("change", () => {
      params.set(`var-${variable.name}`, /** @type {HTMLSelectElement} */ (select).value);
      location.search = params.toString();
    });
    form.append(html("label", { for: `var-${variable.name}` }, [variable.label ?? variable.name]), select);
  }

  const container = /** @type {HTMLElement} */ (document.getElementById("panels"));
  /** @type {[Panel, HTMLElement][]} */
  const drawn = [];
  for (const [index, panel] of (/** @type {Panel[]} */ (dashboard.panels ?? [])).entries()) {
    const place = panel.gridPos ? `grid-column: ${panel.gridPos.x + 1} / span ${panel.gridPos.w}; grid-row: ${panel.gridPos.y + 1} / span ${panel.gridPos.h};` : "";
    if (panel.type === "row") {
      container.append(html("h2", { class: "row", style: place }, [panel.title]));
      continue;
    }
    const heading = `panel-${index}`;
    const section = html("section", { class: "panel", style: place, "aria-labelledby": heading, "data-state": "loading", "data-type": panel.type }, [
      html("h2", { id: heading, ...(panel.description ? { title: panel.description } : {}) }, [panel.title]),
      html("div", { class: "body" }, [html("p", { class: "empty" }, ["Chargement…"])]),
    ]);
    container.append(section);
    drawn.push([panel, section]);
  }

  const range = rangeSeconds(dashboard.time?.from);
  const refresh = async () => {
    const step = Math.max(Math.ceil(range / points), scrapeSeconds);
    // The last point is now: data younger than one step are drawn too.
    const end = Math.floor(Date.now() / 1000);
    const start = end - Math.floor(range / step) * step;
    const context = { start, end, step, values: { ...values, __interval: `${step}s`, __rate_interval: `${Math.max(step + scrapeSeconds, 4 * scrapeSeconds)}s`, __range: `${range}s` } };
    await Promise.all(drawn.map(([panel, section]) => draw(panel, section, context)));
    /** @type {HTMLElement} */ (document.getElementById("range")).textContent =
      `Du ${new Date(start * 1000).toLocaleString("fr-FR")} au ${new Date(end * 1000).toLocaleString("fr-FR")}`;
    document.body.dataset.drawnAt = String(end);
  };
  await refresh();
  const every = rangeSeconds(`now-${dashboard.refresh ?? "1m"}`);
  setInterval(refresh, every * 1000);
}

main().catch((error) => {
  document.getElementById("panels")?.replaceChildren(html("p", { class: "error", role: "alert" }, [`Tableau de bord illisible : ${error instanceof Error ? error.message : String(error)}`]));
});
