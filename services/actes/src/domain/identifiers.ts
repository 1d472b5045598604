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

/** An @ctes exchange: its type and flow, 1-1 for the transmission of an act, 6-1 for its cancellation. */
export type ExchangeCode = `${number}-${number}`;

/**
 * The names of the files of one exchange about an act, as @ctes writes them: every name begins
 * with the act's identifier and the exchange's code (`035-213502388-20261128-D2026_001-DE-1-1`);
 * the metadata is `{base}_0.xml`, the act's document and annexes `{typology}-{base}_{rank}.{ext}`
 * from rank 1.
 */
export function exchangeFileNames(identifier: string, exchange: ExchangeCode) {
  if (!parseActIdentifier(identifier)) throw new Error(`invalid act identifier "${identifier}"`);
  if (!/^[1-9]-[1-9]$/.test(exchange)) throw new Error(`invalid exchange code "${exchange}"`);
  const base = `${identifier}-${exchange}`;
  return {
    base,
    metadata: `${base}_0.xml`,
    file: (typology: string, rank: number, extension: "pdf" | "xml" | "p7s") => `${typology}-${base}_${rank}.${extension}`,
  };
}

/**
 * What one transmission of a collectivity is called: the envelope `EACT--{SIREN}--{YYYYMMDD}-{n}.xml`
 * inside the archive `{TRI}-EACT--{SIREN}--{YYYYMMDD}-{n}.tar.gz`, where n counts the
 * collectivity's transmissions of the day from 1, so two never share a name.
 */
export function transmissionNames(trigram: string, siren: string, day: string, sequence: number) {
  if (!/^[0-9A-Z]{3}$/.test(trigram)) throw new Error(`invalid transmitter trigram "${trigram}"`);
  if (!Number.isInteger(sequence) || sequence < 1) throw new Error(`invalid sequence ${sequence}: the day's transmissions count from 1`);
  const stem = `EACT--${siren}--${day.replaceAll("-", "")}-${sequence}`;
  return { envelope: `${stem}.xml`, archive: `${trigram}-${stem}.tar.gz` };
}

/** The prefecture's envelope of its n-th message of the day to a collectivity: `TACT--{SIREN}--{YYYYMMDD}-{n}.xml`. */
export function prefectureEnvelopeName(siren: string, day: string, sequence: number): string {
  if (!Number.isInteger(sequence) || sequence < 1) throw new Error(`invalid sequence ${sequence}: the day's messages count from 1`);
  return `TACT--${siren}--${day.replaceAll("-", "")}-${sequence}.xml`;
}

/** The day in France, where the prefectures count a collectivity's transmissions and date their answers. */
export function parisDay(at: Date): string {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Paris", year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}
