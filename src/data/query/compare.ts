/**
 * Value order shared by the SQL a shard runs and the merge at the router, so that merging
 * shards' answers gives exactly what one database would. It is SQLite's order for the values
 * json_extract yields: NULL (and absent) first, then numbers (booleans count as 0 and 1), then
 * text in code point order (SQLite's BINARY collation compares UTF-8 bytes, which orders by
 * code point), then objects and arrays by their JSON text.
 */

function typeRank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return 1;
  if (typeof value === 'string') return 2;
  return 3;
}

/** Orders strings by code point, as UTF-8 byte comparison does (JS's < orders by UTF-16 unit). */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      // Surrogates encode code points above U+FFFF: move them above U+E000–U+FFFF.
      ca = ca <= 0xdfff ? ca + 0x2000 : ca - 0x800;
      cb = cb <= 0xdfff ? cb + 0x2000 : cb - 0x800;
    }
    return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

/** Three-way comparison of two values in SQLite's order (ascending). */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1: {
      const na = Number(a);
      const nb = Number(b);
      return na < nb ? -1 : na > nb ? 1 : 0;
    }
    case 2:
      return compareText(a as string, b as string);
    default:
      return compareText(JSON.stringify(a), JSON.stringify(b));
  }
}
