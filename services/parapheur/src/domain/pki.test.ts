import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cadesDetached } from "./cades.ts";
import { createAuthority, issueCertificate, openPrivateKey, sealPrivateKey } from "./pki.ts";
import { xadesEnveloped } from "./xades.ts";

const rennes = { name: "rennes", displayName: "Ville de Rennes", siren: "213502388" };
const openssl = (dir: string, ...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe", encoding: "utf8" });

describe("each collectivity's certificate authority, and signatures that openssl verifies", () => {
  it("when the authority issues a signer's and the seal's certificates, then openssl verifies both against it, and not against another collectivity's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parapheur-pki-"));
    const authority = await createAuthority(rennes);
    const signer = await issueCertificate(authority, rennes, "signer", { commonName: "Nathalie Appéré", title: "Maire", email: "maire@ville-rennes.example" });
    const seal = await issueCertificate(authority, rennes, "seal", { commonName: "Ville de Rennes" });
    const brest = await createAuthority({ name: "brest", displayName: "Ville de Brest", siren: "212900195" });
    writeFileSync(join(dir, "ca.pem"), authority.certificatePem);
    writeFileSync(join(dir, "brest.pem"), brest.certificatePem);
    writeFileSync(join(dir, "signer.pem"), signer.certificatePem);
    writeFileSync(join(dir, "seal.pem"), seal.certificatePem);
    expect(openssl(dir, "verify", "-CAfile", "ca.pem", "signer.pem", "seal.pem")).toBe("signer.pem: OK\nseal.pem: OK\n");
    expect(() => openssl(dir, "verify", "-CAfile", "brest.pem", "signer.pem")).toThrow();
    const text = openssl(dir, "x509", "-in", "signer.pem", "-noout", "-text", "-nameopt", "utf8");
    expect(text).toContain("CN=Nathalie Appéré");
    expect(text).toMatch(/Digital Signature, Non Repudiation/);
    expect(text).toContain("CA:FALSE");
    expect(openssl(dir, "x509", "-in", "ca.pem", "-noout", "-text")).toMatch(/CA:TRUE, pathlen:0/);
  });

  it("when a document is signed (CAdES detached), then openssl cms verifies it against the collectivity's authority, and refuses a changed document", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parapheur-cades-"));
    const authority = await createAuthority(rennes);
    const signer = await issueCertificate(authority, rennes, "signer", { commonName: "Nathalie Appéré", title: "Maire" });
    const document = Buffer.from("%PDF-1.7\n% délibération signée\n%%EOF\n", "latin1");
    const signature = await cadesDetached(document, signer, [authority.certificatePem], new Date());
    writeFileSync(join(dir, "ca.pem"), authority.certificatePem);
    writeFileSync(join(dir, "acte.pdf"), document);
    writeFileSync(join(dir, "acte.p7s"), signature);
    writeFileSync(join(dir, "modifie.pdf"), Buffer.concat([document, Buffer.from(" ")]));
    openssl(dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "acte.p7s", "-content", "acte.pdf", "-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null");
    expect(() => openssl(dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "acte.p7s", "-content", "modifie.pdf", "-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null")).toThrow();
    // The signed attributes are there: the signing time and the signer's certificate by its hash.
    const printed = openssl(dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "acte.p7s");
    expect(printed).toContain("signingTime");
    expect(printed).toContain("id-smime-aa-signingCertificateV2");
  });

  it("when a private key is sealed for storage, then only the same master key and collectivity open it", async () => {
    const master = randomBytes(32);
    const key = randomBytes(138);
    const sealed = sealPrivateKey(master, "rennes", key);
    expect(sealed.includes(key)).toBe(false);
    expect(openPrivateKey(master, "rennes", sealed).equals(key)).toBe(true);
    expect(() => openPrivateKey(master, "brest", sealed)).toThrow();
    expect(() => openPrivateKey(randomBytes(32), "rennes", sealed)).toThrow();
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(() => openPrivateKey(master, "rennes", altered)).toThrow();
  });
});

describe("a PES bordereau signed with XAdES, verified by xmlsec1", () => {
  it("when a bordereau of an ISO-8859-1 PES is signed, then xmlsec1 verifies it against the collectivity's authority, and refuses a changed amount", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parapheur-xades-"));
    const authority = await createAuthority(rennes);
    const signer = await issueCertificate(authority, rennes, "signer", { commonName: "Nathalie Appéré", title: "Ordonnatrice" });
    const pes = Buffer.from(
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n<PES_Aller xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><EnTetePES><LibelleColBud V="Ville de Rennes, budget principal"/></EnTetePES>' +
        '<PES_DepenseAller><Bordereau Id="B1"><BlocBordereau><NumBord V="12"/><MtBordHT V="1500.00"/></BlocBordereau><Piece><BlocPiece><ObjPiece V="Fournitures d\'écoles"/></BlocPiece></Piece></Bordereau></PES_DepenseAller></PES_Aller>\n',
      "latin1",
    );
    const signed = xadesEnveloped(pes, "B1", signer, new Date());
    expect(signed.toString("latin1")).toContain("Fournitures d'écoles");
    writeFileSync(join(dir, "ca.pem"), authority.certificatePem);
    writeFileSync(join(dir, "pes.xml"), signed);
    writeFileSync(join(dir, "modifie.xml"), Buffer.from(signed.toString("latin1").replace('MtBordHT V="1500.00"', 'MtBordHT V="9500.00"'), "latin1"));
    const xmlsec1 = (file: string) => execFileSync("xmlsec1", ["--verify", "--trusted-pem", "ca.pem", "--id-attr:Id", "Bordereau", file], { cwd: dir, stdio: "pipe", encoding: "utf8" });
    xmlsec1("pes.xml");
    expect(() => xmlsec1("modifie.xml")).toThrow();
  });
});
