/**
 * Pages of a list that does not fit one screen, for the hall's rotation. The page shown follows
 * the clock (a new one every `everyMs`), so nothing but the time drives it.
 */
export function pageCount(items: number, perPage: number): number {
  return Math.max(1, Math.ceil(items / perPage));
}

/** Page `index` of the list, counting round: index 3 of a 2-page list is its second page. */
export function pageOf<T>(items: readonly T[], perPage: number, index: number): { items: T[]; page: number; pages: number } {
  const pages = pageCount(items.length, perPage);
  const page = ((index % pages) + pages) % pages;
  return { items: items.slice(page * perPage, (page + 1) * perPage), page, pages };
}

export function rotationIndex(now: number, everyMs: number): number {
  return Math.floor(now / everyMs);
}
