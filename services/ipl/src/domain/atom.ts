/**
 * An Atom feed (RFC 4287) of a collectivity's published acts, newest first: each entry links to
 * the act's page and to its file, with its publication date and, for an arrêté, its author.
 */
export interface FeedEntry {
  /** A permanent, unique id: the act's page, which never changes. */
  readonly url: string;
  readonly title: string;
  readonly summary?: string;
  readonly publishedAt: Date;
  readonly updatedAt: Date;
  readonly file: { readonly url: string; readonly type: string; readonly length: number };
  readonly author?: { readonly name: string; readonly role?: string };
}

export interface Feed {
  readonly url: string;
  readonly pageUrl: string;
  readonly title: string;
  readonly entries: readonly FeedEntry[];
}

function escape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function atomFeed(feed: Feed, now: Date): string {
  const entries = [...feed.entries].sort((a, b) => b.publishedAt.getTime() - a.publishedAt.getTime());
  const updated = entries[0]?.updatedAt ?? now;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">`,
    `  <id>${escape(feed.url)}</id>`,
    `  <title>${escape(feed.title)}</title>`,
    `  <updated>${updated.toISOString()}</updated>`,
    `  <link rel="self" type="application/atom+xml" href="${escape(feed.url)}"/>`,
    `  <link rel="alternate" type="text/html" href="${escape(feed.pageUrl)}"/>`,
    `  <author><name>${escape(feed.title)}</name></author>`,
    ...entries.flatMap((entry) => [
      `  <entry>`,
      `    <id>${escape(entry.url)}</id>`,
      `    <title>${escape(entry.title)}</title>`,
      `    <published>${entry.publishedAt.toISOString()}</published>`,
      `    <updated>${entry.updatedAt.toISOString()}</updated>`,
      `    <link rel="alternate" type="text/html" href="${escape(entry.url)}"/>`,
      `    <link rel="enclosure" type="${escape(entry.file.type)}" length="${entry.file.length}" href="${escape(entry.file.url)}"/>`,
      ...(entry.author ? [`    <author><name>${escape(entry.author.role ? `${entry.author.name}, ${entry.author.role}` : entry.author.name)}</name></author>`] : []),
      ...(entry.summary ? [`    <summary>${escape(entry.summary)}</summary>`] : []),
      `  </entry>`,
    ]),
    `</feed>`,
    "",
  ].join("\n");
}
