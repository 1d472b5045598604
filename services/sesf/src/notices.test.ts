import { describe, expect, it } from "vitest";
import { guestInvitation, recipientNotice } from "./notices.ts";

describe("the exchange's e-mails", () => {
  const sender = { who: "maelle.lebihan@ville-rennes.example", collectivity: "Ville de Rennes" };

  it("a recipient's notice gives their own link, the share's end in Paris time, and warns of a password sent apart", () => {
    const notice = recipientNotice(sender, { description: "DCE voirie 2027", expiresAt: "2027-01-15T10:00:00.000Z", passwordRequired: true }, { email: "contact@entreprise.example", url: "https://x.example/api/v1/links/abc" });
    expect(notice).toMatchObject({ to: "contact@entreprise.example", subject: "Des fichiers vous sont transmis par Ville de Rennes" });
    expect(notice.text).toContain("maelle.lebihan@ville-rennes.example (Ville de Rennes) vous transmet des fichiers de façon sécurisée : « DCE voirie 2027 »");
    expect(notice.text).toContain("Votre lien personnel : https://x.example/api/v1/links/abc");
    expect(notice.text).toContain("15 janvier 2027 à 11:00");
    expect(notice.text).toContain("mot de passe vous sera communiqué séparément");
  });

  it("a guest's invitation gives the voucher and says it serves once", () => {
    const invitation = guestInvitation({ collectivity: "Ville de Rennes" }, { description: "", uploadUntil: "2027-07-01T08:30:00.000Z", voucherUrl: "https://x.example/api/v1/uploads/def" }, "gerant@entreprise.example");
    expect(invitation.subject).toBe("Ville de Rennes vous invite à déposer des fichiers");
    expect(invitation.text).toContain("Ville de Rennes vous invite à lui transmettre des fichiers de façon sécurisée.");
    expect(invitation.text).toContain("https://x.example/api/v1/uploads/def");
    expect(invitation.text).toContain("1 juillet 2027 à 10:30");
    expect(invitation.text).toContain("en une seule fois");
  });
});
