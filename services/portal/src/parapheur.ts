import type { Express, Request, RequestHandler, Response } from "express";
import type { UserCaller } from "@mutualis/service-kit";
import { errorPage } from "./pages.ts";
import { deskPage, folderPage, type DeskRow, type FolderRow, type FolderView, type Notice } from "./parapheur-pages.ts";

type SignedIn = { session: { accessToken: string; csrf: string }; caller: UserCaller };
type Gateway = <T>(token: string, collectivity: string, operation: string, body: unknown, service: string) => Promise<{ status: number; body: T }>;

export interface ParapheurRouteContext {
  readonly current: (req: Request) => Promise<SignedIn | undefined>;
  readonly html: (res: Response, status: number, body: string) => void;
  readonly form: RequestHandler;
  readonly person: (s: SignedIn) => { name: string; csrf: string };
  readonly gateway: Gateway;
}

/** Midnight in Paris on a day (YYYY-MM-DD), as an instant: a delegation's dates are the collectivity's days. */
export function parisMidnight(day: string): Date {
  const asUtc = new Date(`${day}T00:00:00Z`);
  const there = new Date(asUtc.toLocaleString("sv-SE", { timeZone: "Europe/Paris" }).replace(" ", "T") + "Z");
  return new Date(asUtc.getTime() - (there.getTime() - asUtc.getTime()));
}

const nextDay = (day: string) => new Date(Date.parse(`${day}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const messageOf = (body: unknown, status: number) => (body as { message?: string } | undefined)?.message ?? `erreur ${status}`;

/**
 * The parapheur in the portal: a signer's desk and a folder's page, and the forms behind them,
 * each a call to the gateway with the person's own token (the parapheur decides what they may
 * do). Signing asks the identity service for a confirmation of the person's second factor, for
 * that folder alone, then hands it to the parapheur with the signature request.
 */
export function parapheurRoutes(app: Express, { current, html, form, person, gateway }: ParapheurRouteContext): void {
  const call = <T>(signedIn: SignedIn, collectivity: string, operation: string, body: unknown, service = "parapheur") => gateway<T>(signedIn.session.accessToken, collectivity, operation, body, service);
  const collectivityOf = (req: Request) => String(req.params.collectivity);

  /** Renders the desk, with a notice. */
  const showDesk = async (res: Response, signedIn: SignedIn, collectivity: string, notice?: Notice, status = 200) => {
    const waiting = await call<{ folders: FolderRow[] }>(signedIn, collectivity, "folders.list", { view: "waiting" });
    if (waiting.status !== 200) return void html(res, waiting.status, errorPage("Parapheur indisponible", messageOf(waiting.body, waiting.status), person(signedIn)));
    const started = await call<{ folders: FolderRow[] }>(signedIn, collectivity, "folders.list", { view: "started" });
    const desks = await call<{ desks: DeskRow[] }>(signedIn, collectivity, "desks.list", {});
    const own = (desks.body.desks ?? []).filter((d) => d.owners.includes(signedIn.caller.email.toLowerCase()));
    html(res, status, deskPage(collectivity, person(signedIn), waiting.body.folders, started.status === 200 ? started.body.folders : [], own, notice));
  };

  /** Renders a folder, with what the person may do at its current step, and a notice. */
  const showFolder = async (res: Response, signedIn: SignedIn, collectivity: string, id: string, notice?: Notice, status = 200, enrolment?: { secret: string; uri: string }) => {
    const folder = await call<FolderView>(signedIn, collectivity, "folders.get", { id });
    if (folder.status !== 200) return void html(res, folder.status, errorPage("Dossier introuvable", "Ce dossier n’existe pas, ou vous n’y avez pas accès.", person(signedIn)));
    const waiting = await call<{ folders: FolderRow[] }>(signedIn, collectivity, "folders.list", { view: "waiting" });
    const mine = waiting.status === 200 && waiting.body.folders.some((f) => f.id === id);
    const type = folder.body.currentStep?.type;
    const roles = signedIn.caller.memberships[collectivity] ?? [];
    const signs = roles.some((r) => r === "signataire" || r === "elu" || r === "administrateur");
    const status2fa = mine && type === "SIGNATURE" ? await call<{ enrolled: boolean }>(signedIn, collectivity, "second-factor.status", {}, "identity") : undefined;
    html(
      res,
      status,
      folderPage(collectivity, person(signedIn), folder.body, { visa: mine && type === "VISA", sign: mine && type === "SIGNATURE" && signs, reject: mine && type !== "SEAL" }, { enrolled: Boolean(status2fa?.body.enrolled), ...(enrolment ? { enrolment } : {}) }, notice),
    );
  };

  /** A form's person, checked: signed in, and the form is theirs (its CSRF token). */
  const formOf = async (req: Request, res: Response): Promise<SignedIn | undefined> => {
    const signedIn = await current(req);
    if (!signedIn) return void res.redirect(303, "/connexion");
    if (req.body?.csrf !== signedIn.session.csrf) return void html(res, 403, errorPage("Demande refusée", "Ce formulaire a expiré : rechargez la page.", person(signedIn)));
    return signedIn;
  };

  app.get("/collectivites/:collectivity/parapheur", async (req, res) => {
    const signedIn = await current(req);
    if (!signedIn) return void res.redirect(303, "/connexion");
    await showDesk(res, signedIn, collectivityOf(req));
  });

  app.get("/collectivites/:collectivity/parapheur/dossiers/:id", async (req, res) => {
    const signedIn = await current(req);
    if (!signedIn) return void res.redirect(303, "/connexion");
    await showFolder(res, signedIn, collectivityOf(req), String(req.params.id));
  });

  // A document, opened in the browser's own reader.
  app.get("/collectivites/:collectivity/parapheur/dossiers/:id/documents/:index", async (req, res) => {
    const signedIn = await current(req);
    if (!signedIn) return void res.redirect(303, "/connexion");
    const document = await call<{ name: string; mimeType: string; contentBase64: string }>(signedIn, collectivityOf(req), "folders.document", {
      id: String(req.params.id),
      index: Number(req.params.index),
      version: req.query.version === "signe" ? "signed" : "original",
    });
    if (document.status !== 200) return void html(res, document.status, errorPage("Document introuvable", "Ce document n’existe pas, ou vous n’y avez pas accès.", person(signedIn)));
    res.setHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'");
    res
      .status(200)
      .type(document.body.mimeType)
      .set("cache-control", "no-store")
      .set("content-disposition", `inline; filename*=UTF-8''${encodeURIComponent(document.body.name)}`)
      .send(Buffer.from(document.body.contentBase64, "base64"));
  });

  app.post("/collectivites/:collectivity/parapheur/dossiers/:id/viser", form, async (req, res) => {
    const signedIn = await formOf(req, res);
    if (!signedIn) return;
    const id = String(req.params.id);
    const comment = typeof req.body?.comment === "string" && req.body.comment.trim() ? { comment: req.body.comment.trim() } : {};
    const done = await call(signedIn, collectivityOf(req), "folders.visa", { id, ...comment });
    await showFolder(res, signedIn, collectivityOf(req), id, done.status === 200 ? { kind: "status", text: "Dossier visé." } : { kind: "error", text: `Le visa n’a pas été enregistré : ${messageOf(done.body, done.status)}` }, done.status === 200 ? 200 : done.status);
  });

  app.post("/collectivites/:collectivity/parapheur/dossiers/:id/rejeter", form, async (req, res) => {
    const signedIn = await formOf(req, res);
    if (!signedIn) return;
    const id = String(req.params.id);
    const done = await call(signedIn, collectivityOf(req), "folders.reject", { id, reason: String(req.body?.reason ?? "") });
    await showFolder(res, signedIn, collectivityOf(req), id, done.status === 200 ? { kind: "status", text: "Dossier rejeté." } : { kind: "error", text: `Le rejet n’a pas été enregistré : ${messageOf(done.body, done.status)}` }, done.status === 200 ? 200 : done.status);
  });

  app.post("/collectivites/:collectivity/parapheur/dossiers/:id/signer", form, async (req, res) => {
    const signedIn = await formOf(req, res);
    if (!signedIn) return;
    const collectivity = collectivityOf(req);
    const id = String(req.params.id);
    const confirmed = await call<{ confirmation: string }>(signedIn, collectivity, "second-factor.confirm", { code: String(req.body?.code ?? ""), purpose: `parapheur.sign:${id}` }, "identity");
    if (confirmed.status !== 200) {
      return showFolder(res, signedIn, collectivity, id, { kind: "error", text: `Le code n’a pas été accepté : ${confirmed.status === 429 ? "trop d’essais, patientez cinq minutes" : "vérifiez le code affiché par votre application"}.` }, confirmed.status);
    }
    const signed = await call(signedIn, collectivity, "folders.sign", { id, confirmation: confirmed.body.confirmation });
    await showFolder(res, signedIn, collectivity, id, signed.status === 200 ? { kind: "status", text: "Dossier signé." } : { kind: "error", text: `La signature n’a pas été faite : ${messageOf(signed.body, signed.status)}` }, signed.status === 200 ? 200 : signed.status);
  });

  app.post("/collectivites/:collectivity/parapheur/second-facteur", form, async (req, res) => {
    const signedIn = await formOf(req, res);
    if (!signedIn) return;
    const collectivity = collectivityOf(req);
    const id = String(req.body?.dossier ?? "");
    const enrolled = await call<{ secret: string; uri: string }>(signedIn, collectivity, "second-factor.enrol", {}, "identity");
    if (enrolled.status !== 200) return showFolder(res, signedIn, collectivity, id, { kind: "error", text: `L’application n’a pas pu être configurée : ${messageOf(enrolled.body, enrolled.status)}` }, enrolled.status);
    await showFolder(res, signedIn, collectivity, id, { kind: "status", text: "Ajoutez la clé à votre application, puis signez avec le code qu’elle affiche." }, 200, enrolled.body);
  });

  app.post("/collectivites/:collectivity/parapheur/bureaux/:desk/delegation", form, async (req, res) => {
    const signedIn = await formOf(req, res);
    if (!signedIn) return;
    const collectivity = collectivityOf(req);
    const ending = req.body?.end === "1";
    const from = String(req.body?.from ?? "");
    const until = String(req.body?.until ?? "");
    if (!ending && (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(until))) {
      return showDesk(res, signedIn, collectivity, { kind: "error", text: "Indiquez les dates de début et de fin de la délégation." }, 400);
    }
    const delegations = ending ? [] : [{ to: String(req.body?.to ?? ""), from: parisMidnight(from).toISOString(), until: parisMidnight(nextDay(until)).toISOString() }];
    const done = await call(signedIn, collectivity, "desks.delegate", { desk: String(req.params.desk), delegations });
    await showDesk(
      res,
      signedIn,
      collectivity,
      done.status === 200 ? { kind: "status", text: ending ? "Délégation terminée." : "Délégation enregistrée." } : { kind: "error", text: `La délégation n’a pas été enregistrée : ${messageOf(done.body, done.status)}` },
      done.status === 200 ? 200 : done.status,
    );
  });
}
