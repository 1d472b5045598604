import { natures, type NatureCode } from "./act.ts";

/**
 * The identifier the prefecture gives an acknowledged act (ARActe@IDActe):
 * département–SIREN–date–internal number–nature, e.g. 035-213502388-20261128-D2026_001-DE.
 */
export function actIdentifier(departement: string, siren: string, date: string, numeroInterne: string, nature: NatureCode): string {
  if (!/^[0-9]{2,3}[AB]?$/.test(departement)) throw new Error(`invalid département "${departement}"`);
  return [departement.padStart(3, "0"), siren, date.replaceAll("-", ""), numeroInterne, natures[nature].code].join("-");
}

const identifierPattern = /^([0-9]{3}|0[0-9][AB])-([0-9]{9})-([0-9]{8})-([0-9A-Z_]{2,15})-(DE|AR|AI|CC|BF|AU)$/;

export function parseActIdentifier(identifier: string) {
  const match = identifierPattern.exec(identifier);
  if (!match) return undefined;
  const [, departement, siren, date, numeroInterne, nature] = match;
  return { departement, siren, date: `${date!.slice(0, 4)}-${date!.slice(4, 6)}-${date!.slice(6)}`, numeroInterne, nature };
}

/** The archive name @ctes expects: {TRI}-EACT--{SIREN}--{YYYYMMDD}-{n}.tar.gz. */
export function archiveName(trigram: string, siren: string, date: string, sequence: number): string {
  if (!/^[0-9A-Z]{3}$/.test(trigram)) throw new Error(`invalid transmitter trigram "${trigram}"`);
  return `${trigram}-EACT--${siren}--${date.replaceAll("-", "")}-${sequence}.tar.gz`;
}
