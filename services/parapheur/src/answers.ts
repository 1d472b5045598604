import { z } from "zod";
import { stepTypes } from "./domain/circuit.ts";
import { deskDefinition } from "./domain/desks.ts";
import { signatureFormats, typeDefinition } from "./domain/typology.ts";

/**
 * What the parapheur answers: its contract, published as AsyncAPI and checked on every answer
 * (an answer outside it is refused with a 500 and logged).
 */
const at = z.iso.datetime();
const actionKinds = ["visa", "signature", "seal", "rejection", "bypass", "transfer", "second-opinion"] as const;

const stepAnswer = z
  .object({
    type: z.enum(stepTypes),
    desks: z.array(z.string()),
    quorum: z.number().int(),
    state: z.enum(["UPCOMING", "CURRENT", "VALIDATED", "REJECTED", "BYPASSED"]),
    actions: z.array(z.object({ kind: z.enum(actionKinds), desk: z.string().optional(), by: z.string(), at, delegate: z.string().optional(), reason: z.string().optional(), to: z.string().optional() }).strict()),
  })
  .strict();

export const folderSummary = z
  .object({
    id: z.uuid(),
    name: z.string(),
    type: z.string(),
    subtype: z.string(),
    /** The folder's state; in a desk's list, where it stands for that desk (CURRENT, LATE, DELEGATED). */
    state: z.enum(["DRAFT", "PENDING", "LATE", "REJECTED", "FINISHED", "CURRENT", "DELEGATED"]),
    deskStates: z.record(z.string(), z.string()).optional(),
    emitter: z.object({ desk: z.string(), by: z.string() }).strict(),
    dueDate: z.iso.date().optional(),
    currentStep: z.object({ index: z.number().int(), type: z.enum(stepTypes), waitingFor: z.array(z.string()), quorum: z.number().int() }).strict().optional(),
    rejection: z.object({ by: z.string(), desk: z.string().optional(), reason: z.string().optional(), at }).strict().optional(),
    retrievable: z.boolean(),
    createdAt: at,
    updatedAt: at,
    finishedAt: at.optional(),
  })
  .strict();

export const folderDetail = folderSummary
  .extend({
    protocol: z.enum(["ACTES", "HELIOS", "NONE"]),
    signatureFormat: z.enum(signatureFormats),
    metadata: z.record(z.string(), z.string()),
    steps: z.array(stepAnswer),
    documents: z.array(
      z
        .object({
          index: z.number().int(),
          name: z.string(),
          mimeType: z.string(),
          size: z.number().int(),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          signedSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
          signatures: z.array(z.object({ by: z.string(), commonName: z.string(), certificate: z.string(), at, format: z.enum(["PKCS7", "PADES", "PES_V2"]), kind: z.enum(["signature", "seal"]), sha256: z.string() }).strict()),
        })
        .strict(),
    ),
    history: z.array(
      z
        .object({
          at,
          by: z.string(),
          action: z.enum(["created", "started", "retrieved", ...actionKinds]),
          step: z.number().int().optional(),
          desk: z.string().optional(),
          delegate: z.string().optional(),
          reason: z.string().optional(),
          to: z.string().optional(),
          certificate: z.string().optional(),
          state: z.string(),
          hashes: z.array(z.string()).optional(),
        })
        .strict(),
    ),
  })
  .strict();

export const certificateAnswer = z
  .object({
    serial: z.string(),
    email: z.string(),
    commonName: z.string(),
    title: z.string().optional(),
    certificatePem: z.string().startsWith("-----BEGIN CERTIFICATE-----"),
    issuedAt: at,
    issuedBy: z.string(),
    revokedAt: at.optional(),
    revokedBy: z.string().optional(),
    revocationReason: z.string().optional(),
  })
  .strict();

const file = z.object({ name: z.string(), mimeType: z.string(), sha256: z.string().optional(), contentBase64: z.base64() }).strict();

export const answers = {
  desk: z.object({ desk: deskDefinition }).strict(),
  desks: z.object({ desks: z.array(deskDefinition) }).strict(),
  type: z.object({ type: typeDefinition }).strict(),
  types: z.object({ types: z.array(typeDefinition) }).strict(),
  certificate: certificateAnswer,
  certificates: z.object({ certificates: z.array(certificateAnswer) }).strict(),
  authority: z.object({ certificatePem: z.string(), sealCertificatePem: z.string(), revocationListPem: z.string().startsWith("-----BEGIN X509 CRL-----") }).strict(),
  folder: folderDetail,
  summary: folderSummary,
  folders: z.object({ folders: z.array(folderSummary) }).strict(),
  document: file,
  flowDocument: file.extend({ signer: z.object({ name: z.string(), title: z.string().optional(), at }).strict().optional(), detachedBase64: z.base64().optional() }).strict(),
  batch: z.object({
    folders: z.array(z.union([z.object({ id: z.uuid(), signed: z.literal(true), state: z.string() }).strict(), z.object({ id: z.uuid(), signed: z.literal(false), status: z.number().int(), reason: z.string() }).strict()])),
  }),
  evidence: z.object({ fileName: z.string().regex(/^preuve-[0-9a-f-]+\.tar\.gz$/), sha256: z.string().regex(/^[0-9a-f]{64}$/), contentBase64: z.base64() }).strict(),
};
