import { natures, type NatureCode } from "./act.ts";
import { escape, latin1Document, rootDeclarations } from "./envelope.ts";
import { readActes, validateActes, type ActesDocument } from "./schema.ts";

/**
 * A collectivity's classification, as its prefecture sends it (`RetourClassification`, exchange
 * 7-2, asked for with 7-1): the natures of acts with the typologies of files each allows, and the
 * tree of matières in up to five levels.
 */
export interface Classification {
  /** The classification's version: its date. Every act names the one it was built on. */
  readonly date: string;
  readonly natures: readonly {
    readonly code: number;
    readonly label: string;
    /** The nature's two letters: DE, AR, AI, CC, BF, AU. */
    readonly short: string;
    readonly typologies: readonly { readonly code: string; readonly label: string }[];
  }[];
  /** Every node of the tree by its full code ("7", "7.1", "7.1.2"), parents before children. */
  readonly matieres: readonly { readonly code: string; readonly label: string }[];
}

/** Collectivity → prefecture (7-1): the classification, naming the version it has if any. */
export function demandeClassificationXml(current?: string): Buffer {
  return latin1Document([
    `<actes:DemandeClassification${rootDeclarations}>`,
    ...(current ? [`<actes:DateClassification>${current}</actes:DateClassification>`] : []),
    `</actes:DemandeClassification>`,
  ]);
}

/** Prefecture → collectivity (7-2): the version the collectivity named is still the one in force. */
export function unchangedClassificationXml(date: string): Buffer {
  return latin1Document([`<actes:ReponseClassificationSansChangement${rootDeclarations}>`, `<actes:DateClassification>${date}</actes:DateClassification>`, `</actes:ReponseClassificationSansChangement>`]);
}

/** Prefecture → collectivity (7-2): the classification in force. */
export function retourClassificationXml(classification: Classification): Buffer {
  const level = (parent: string, depth: number): string[] =>
    classification.matieres
      .filter((m) => m.code.split(".").length === depth && (depth === 1 || m.code.startsWith(`${parent}.`)))
      .flatMap((m) => {
        const attributes = `actes:CodeMatiere="${m.code.split(".").at(-1)}" actes:Libelle="${escape(m.label)}"`;
        const children = depth < 5 ? level(m.code, depth + 1) : [];
        return children.length > 0 ? [`<actes:Matiere${depth} ${attributes}>`, ...children, `</actes:Matiere${depth}>`] : [`<actes:Matiere${depth} ${attributes}/>`];
      });
  return latin1Document([
    `<actes:RetourClassification${rootDeclarations}>`,
    `<actes:DateClassification>${classification.date}</actes:DateClassification>`,
    `<actes:NaturesActes>`,
    ...classification.natures.flatMap((n) => [
      `<actes:NatureActe actes:CodeNatureActe="${n.code}" actes:Libelle="${escape(n.label)}" actes:TypeAbrege="${n.short}">`,
      ...n.typologies.map((t) => `<actes:TypePJNatureActe actes:CodeTypePJ="${escape(t.code)}" actes:Libelle="${escape(t.label)}"/>`),
      `</actes:NatureActe>`,
    ]),
    `</actes:NaturesActes>`,
    `<actes:Matieres>`,
    ...level("", 1),
    `</actes:Matieres>`,
    `</actes:RetourClassification>`,
  ]);
}

function readMatieres(document: ActesDocument, path: string, depth: number, parent: string): { code: string; label: string }[] {
  const count = Number(document.text(`count(${path}/actes:Matiere${depth})`));
  return Array.from({ length: count }, (_, i) => {
    const node = `${path}/actes:Matiere${depth}[${i + 1}]`;
    const code = `${parent}${document.text(`${node}/@actes:CodeMatiere`)}`;
    return [{ code, label: document.text(`${node}/@actes:Libelle`) }, ...(depth < 5 ? readMatieres(document, node, depth + 1, `${code}.`) : [])];
  }).flat();
}

/** What the prefecture answered to a 7-1: the classification in force, or that the one named is. */
export type ClassificationAnswer = { readonly unchanged: string } | { readonly classification: Classification };

/** Reads the prefecture's answer to a 7-1, checked against the @ctes schema first. */
export function readClassificationAnswer(xml: Uint8Array): ClassificationAnswer {
  const problems = validateActes(xml);
  if (problems.length > 0) throw new Error(`the prefecture's classification does not follow the @ctes schema: ${problems.join("; ")}`);
  return readActes(xml, (document): ClassificationAnswer => {
    if (document.root === "ReponseClassificationSansChangement") return { unchanged: document.text("/actes:ReponseClassificationSansChangement/actes:DateClassification") };
    if (document.root !== "RetourClassification") throw new Error(`the prefecture answered a classification request with a ${document.root}`);
    const root = "/actes:RetourClassification";
    const count = Number(document.text(`count(${root}/actes:NaturesActes/actes:NatureActe)`));
    return {
      classification: {
        date: document.text(`${root}/actes:DateClassification`),
        natures: Array.from({ length: count }, (_, i) => {
          const node = `${root}/actes:NaturesActes/actes:NatureActe[${i + 1}]`;
          const codes = document.all(`${node}/actes:TypePJNatureActe/@actes:CodeTypePJ`);
          const labels = document.all(`${node}/actes:TypePJNatureActe/@actes:Libelle`);
          return {
            code: Number(document.text(`${node}/@actes:CodeNatureActe`)),
            label: document.text(`${node}/@actes:Libelle`),
            short: document.text(`${node}/@actes:TypeAbrege`),
            typologies: codes.map((code, j) => ({ code, label: labels[j] ?? "" })),
          };
        }),
        matieres: readMatieres(document, `${root}/actes:Matieres`, 1, ""),
      },
    };
  });
}

/**
 * What is wrong with an act against the collectivity's classification, one line per problem:
 * a matière that is not in the tree, a nature the prefecture does not list, a typology it does not
 * allow for the act's nature.
 */
export function classificationProblems(
  classification: Classification,
  act: { readonly nature: NatureCode; readonly classification: string; readonly files: readonly { readonly where: string; readonly typology: string }[] },
): string[] {
  const problems: string[] = [];
  if (!classification.matieres.some((m) => m.code === act.classification)) {
    problems.push(`classification: ${act.classification} is not a matière of the classification of ${classification.date}`);
  }
  const nature = classification.natures.find((n) => n.code === act.nature);
  if (!nature) {
    problems.push(`nature: the classification of ${classification.date} has no nature ${act.nature} (${natures[act.nature].label})`);
    return problems;
  }
  for (const file of act.files) {
    if (!nature.typologies.some((t) => t.code === file.typology)) {
      problems.push(`${file.where}.typology: ${file.typology} is not a typology of ${nature.label.toLowerCase()} (allowed: ${nature.typologies.map((t) => t.code).join(", ")})`);
    }
  }
  return problems;
}
