import type { ConsumerMessages } from "@nats-io/jetstream";
import { departementOf } from "@mutualis/api";
import { ConfigError, Forbidden, type EndpointSpec, type ServiceContext, type ServiceDefinition } from "@mutualis/service-kit";
import { z } from "zod";
import { natures } from "./domain/act.ts";
import { actStatuses } from "./domain/statuses.ts";
import { DocumentRepository } from "./documents.ts";
import { consumeFlow, ensureStreams, flowNames } from "./flows.ts";
import { ActRepository, TenantRepository, type Act } from "./repository.ts";
import type { ActesSettings } from "./settings.ts";
import { actRequest } from "./submission.ts";
import { ActesUseCases, type PrefectureReturn } from "./use-cases.ts";

/** An act as the collectivity sees it. */
export function actView(act: Act) {
  return {
    id: act._id,
    numeroInterne: act.numeroInterne,
    nature: natures[act.nature].label,
    classification: act.classification,
    objet: act.objet,
    date: act.date,
    status: act.status,
    statusLabel: actStatuses[act.status].label,
    s2lowStatus: actStatuses[act.status].s2low,
    identifier: act.identifier,
    acknowledgedAt: act.acknowledgedAt?.toISOString(),
    reason: act.reason,
    history: act.history.map((h) => ({ status: h.status, at: new Date(h.at).toISOString(), ...(h.detail ? { detail: h.detail } : {}) })),
    courriers: act.courriers ?? [],
  };
}

function subjectTenant(collectivity: string | undefined): string {
  if (!collectivity) throw new Forbidden("acts are submitted on a tenant subject, tenant.<collectivity>.actes.…");
  return collectivity;
}

/** The actes service: endpoints on `tenant.<collectivity>.actes.*` and the two durable flows. */
export function actesService(): ServiceDefinition<ActesSettings> {
  let useCases: ActesUseCases;
  const consumers: ConsumerMessages[] = [];
  return {
    description: "Legality control: acts teletransmitted to the prefecture (@ctes)",
    async onStart(context: ServiceContext<ActesSettings>) {
      const flows = flowNames(context.settings.ACTES_STREAM_PREFIX, context.settings.PREFECTURE_SUBJECT);
      useCases = new ActesUseCases({
        settings: context.settings,
        nats: context.nats,
        acts: new ActRepository(context.database),
        tenants: new TenantRepository(context.database),
        documents: new DocumentRepository(context.database),
        flows,
        metrics: context.metrics,
      });
      const { TENANT, TENANT_SIREN, TENANT_DISPLAY_NAME } = context.settings;
      if (TENANT) {
        // A deployment dedicated to one collectivity serves it from the start.
        if (!TENANT_SIREN || !TENANT_DISPLAY_NAME) throw new ConfigError("invalid settings: TENANT_SIREN and TENANT_DISPLAY_NAME are required with TENANT");
        await new TenantRepository(context.database).enable(TENANT, { siren: TENANT_SIREN, departement: departementOf(TENANT_SIREN), displayName: TENANT_DISPLAY_NAME });
      }
      await ensureStreams(context.nats, flows);
      const recovered = await useCases.recoverUnsent();
      if (recovered > 0) context.log.info({ recovered }, "queued again the acts an interrupted run had not sent");
      consumers.push(
        await consumeFlow(context.nats, flows.transmissions, (msg) => useCases.transmit(msg.json<{ actId: string }>().actId), context.log),
        await consumeFlow(context.nats, flows.returns, (msg) => useCases.receive(msg.json<PrefectureReturn>()), context.log),
      );
    },
    async onStop() {
      for (const consumer of consumers) await consumer.close();
    },
    endpoints: (context) => {
      const tenants = new TenantRepository(context.database);
      const acts = new ActRepository(context.database);
      /** Every tenant operation is for an enabled collectivity only. */
      const tenantOf = async (collectivity: string | undefined) => {
        const name = subjectTenant(collectivity);
        await tenants.require(name);
        return name;
      };
      const endpoints: EndpointSpec[] = [
        {
          name: "submit",
          subject: "tenant.*.actes.submit",
          schema: actRequest,
          handle: async (request, { collectivity }) => actView(await useCases.submit(await tenantOf(collectivity), request as z.infer<typeof actRequest>)),
        },
        {
          name: "get",
          subject: "tenant.*.actes.get",
          schema: z.object({ id: z.uuid() }),
          handle: async (request, { collectivity }) => actView(await acts.get(await tenantOf(collectivity), (request as { id: string }).id)),
        },
        {
          name: "list",
          subject: "tenant.*.actes.list",
          handle: async (_request, { collectivity }) => (await acts.list(await tenantOf(collectivity))).map(actView),
        },
        {
          name: "cancel",
          subject: "tenant.*.actes.cancel",
          schema: z.object({ id: z.uuid() }),
          handle: async (request, { collectivity }) => actView(await useCases.requestCancellation(await tenantOf(collectivity), (request as { id: string }).id)),
        },
        {
          name: "enable-tenant",
          subject: "platform.actes.tenants.enable",
          schema: z.object({
            collectivity: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
            siren: z.string().regex(/^[0-9]{9}$/),
            departement: z.string().regex(/^[0-9]{2,3}[AB]?$/),
            displayName: z.string().min(1).max(200),
            /** The collectivity has its own dedicated deployment: this one stands aside. */
            dedicated: z.boolean().default(false),
          }),
          handle: async (request) => {
            const { collectivity, dedicated, ...tenant } = request as { collectivity: string; siren: string; departement: string; displayName: string; dedicated: boolean };
            await tenants.enable(collectivity, { ...tenant, departement: tenant.departement.padStart(3, "0") }, dedicated);
            return dedicated ? { delegated: collectivity } : { enabled: collectivity };
          },
        },
        {
          // The collectivity's acts are kept: disabling only stops new requests.
          name: "disable-tenant",
          subject: "platform.actes.tenants.disable",
          schema: z.object({ collectivity: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/) }),
          handle: async (request) => {
            const { collectivity } = request as { collectivity: string };
            await tenants.disable(collectivity);
            return { disabled: collectivity };
          },
        },
      ];
      return endpoints;
    },
  };
}
