import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { letterPdf } from "@mutualis/prefecture-simulator";
import { describe, expect, it } from "vitest";
import { padesSign, PdfError } from "./pades.ts";
import { createAuthority, issueCertificate } from "./pki.ts";

const rennes = { name: "rennes", displayName: "Ville de Rennes", siren: "213502388" };

describe("a PDF act signed with PAdES, verified by pdfsig", () => {
  it("when an act is signed, then pdfsig finds the whole document signed and the signature valid, trusted through the collectivity's authority; a changed byte is a digest mismatch", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parapheur-pades-"));
    const authority = await createAuthority(rennes);
    const signer = await issueCertificate(authority, rennes, "signer", { commonName: "Nathalie Appéré", title: "Maire" });
    const act = letterPdf("Arrêté du maire", ["Article 1 : la rue de Nantes est fermée à la circulation.", "Article 2 : le présent arrêté sera publié."]);
    const signed = await padesSign(act, signer, [authority.certificatePem], new Date(), { reason: "Signature de l'arrêté", location: "Rennes" });
    expect(signed.subarray(0, act.length).equals(act)).toBe(true);
    writeFileSync(join(dir, "signe.pdf"), signed);
    writeFileSync(join(dir, "ca.pem"), authority.certificatePem);
    // pdfsig exits 0 whether the signature is valid or not: its words say.
    const pdfsig = (...args: string[]) => execFileSync("pdfsig", args, { cwd: dir, encoding: "utf8" });
    const untrusted = pdfsig("signe.pdf");
    expect(untrusted).toContain("Signature Validation: Signature is Valid.");
    expect(untrusted).toContain("Total document signed");
    expect(untrusted).toContain("Nathalie Appéré");
    // Trusted once the collectivity's authority is in the NSS database pdfsig reads.
    mkdirSync(join(dir, "nss"));
    execFileSync("certutil", ["-N", "-d", `sql:${join(dir, "nss")}`, "--empty-password"]);
    execFileSync("certutil", ["-A", "-d", `sql:${join(dir, "nss")}`, "-n", "AC Rennes", "-t", "CT,C,C", "-i", join(dir, "ca.pem")]);
    expect(pdfsig("-nssdir", `sql:${join(dir, "nss")}`, "signe.pdf")).toContain("Certificate Validation: Certificate is Trusted.");
    // One byte of the act changed.
    const changed = Buffer.from(signed);
    const at = changed.indexOf("fermée", 0, "latin1");
    changed[at] = "F".charCodeAt(0);
    writeFileSync(join(dir, "modifie.pdf"), changed);
    expect(pdfsig("modifie.pdf")).toMatch(/Digest Mismatch|Signature is Invalid/);
  });

  it("when an act signed once is signed again (a second signer, then the seal), then pdfsig finds three valid signatures, the last covering the whole document", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parapheur-pades-"));
    const authority = await createAuthority(rennes);
    const first = await issueCertificate(authority, rennes, "signer", { commonName: "Première Adjointe" });
    const second = await issueCertificate(authority, rennes, "signer", { commonName: "Nathalie Appéré" });
    const seal = await issueCertificate(authority, rennes, "seal", { commonName: "Ville de Rennes" });
    let pdf = letterPdf("Délibération", ["Le conseil municipal approuve le budget."]);
    for (const key of [first, second, seal]) pdf = await padesSign(pdf, key, [authority.certificatePem], new Date(), { reason: "Signature" });
    writeFileSync(join(dir, "signe.pdf"), pdf);
    const report = execFileSync("pdfsig", ["signe.pdf"], { cwd: dir, encoding: "utf8" });
    expect(report.match(/Signature Validation: Signature is Valid\./g)).toHaveLength(3);
    expect(report.match(/Total document signed/g)).toHaveLength(1);
    for (const name of ["Première Adjointe", "Nathalie Appéré", "Cachet de Ville de Rennes"]) expect(report).toContain(name);
  });

  it("when a PDF's cross references are a stream, or it is not a PDF, then it is refused with the reason", async () => {
    const authority = await createAuthority(rennes);
    const signer = await issueCertificate(authority, rennes, "seal", { commonName: "Ville de Rennes" });
    const streamed = Buffer.from("%PDF-1.7\n1 0 obj\n<< /Type /XRef >>\nstream\nendstream\nendobj\nstartxref\n9\n%%EOF\n", "latin1");
    await expect(padesSign(streamed, signer, [], new Date())).rejects.toThrow(PdfError);
    await expect(padesSign(Buffer.from("pas un PDF"), signer, [], new Date())).rejects.toThrow("does not end as a PDF does");
  });
});
