import express, { type ErrorRequestHandler, type Express, type Request, type Response } from "express";
import { errors, type InteractionResults } from "oidc-provider";
import type Provider from "oidc-provider";
import type { Logger } from "@mutualis/service-kit";
import { acrFor, amrFor, interactionPath } from "./contract.ts";
import { errorPage, loginPage } from "./pages.ts";
import { accountIdOf } from "./provider.ts";
import type { TestAgent } from "./settings.ts";

const asString = (value: unknown) => (typeof value === "string" ? value : undefined);

/**
 * The login page of an authorization request, where the tester picks a test agent, and what its
 * two buttons post (an agent, or giving up). oidc-provider keeps the request; these routes only
 * give it the outcome.
 */
export function interactionRoutes(app: Express, provider: Provider, agents: readonly TestAgent[], log: Logger): void {
  const path = interactionPath(":uid");
  /** The interaction of this request, from its cookie, refused when it is not the one in the path. */
  const interactionOf = async (req: Request, res: Response) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== req.params.uid) throw new errors.SessionNotFound("interaction and path differ");
    return details;
  };
  const finish = (req: Request, res: Response, result: InteractionResults) => provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });

  app.get(path, async (req, res) => {
    const { uid, params } = await interactionOf(req, res);
    const clientId = asString(params.client_id) ?? "";
    const client = await provider.Client.find(clientId);
    res.set("Cache-Control", "no-store");
    res.type("html").send(
      loginPage({
        serviceName: client?.clientName ?? clientId,
        agents,
        action: `${interactionPath(uid)}/login`,
        abortAction: `${interactionPath(uid)}/abort`,
        suggestedEmail: asString(params.login_hint),
      }),
    );
  });

  app.post(`${path}/login`, express.urlencoded({ extended: false, limit: "4kb" }), async (req, res) => {
    const email = asString((req.body as Record<string, unknown> | undefined)?.email)?.toLowerCase();
    const agent = agents.find((candidate) => accountIdOf(candidate) === email);
    if (!agent) {
      res.status(400).type("html").send(errorPage({ title: "Agent inconnu", message: "Cet agent de test n'existe pas dans le simulateur." }));
      return;
    }
    const { params } = await interactionOf(req, res);
    const acr = acrFor(params);
    log.info({ client: params.client_id, agent: accountIdOf(agent), acr }, "agent signed in");
    await finish(req, res, { login: { accountId: accountIdOf(agent), acr, amr: amrFor(acr), remember: true } });
  });

  app.post(`${path}/abort`, async (req, res) => {
    await interactionOf(req, res);
    await finish(req, res, { error: "access_denied", error_description: "l'agent a annulé la connexion" });
  });

  const expired: ErrorRequestHandler = (error: unknown, _req, res, next) => {
    if (!(error instanceof errors.SessionNotFound)) {
      next(error);
      return;
    }
    res
      .status(400)
      .type("html")
      .send(errorPage({ title: "Demande de connexion expirée", message: "Cette demande de connexion a expiré ou a déjà été utilisée.", code: "session_not_found" }));
  };
  app.use(path, expired);
}
