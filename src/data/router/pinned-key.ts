import type { Scalar, Where } from '../types.ts';

/**
 * The partition key value a query pins with equality at its top level (directly or inside a
 * top-level `and`), so it can go to one shard only.
 */
export function pinnedKey(where: Where | undefined, keyField: string | undefined): string | undefined {
  if (!where || keyField === undefined) return undefined;
  if ('and' in where && Array.isArray(where.and)) {
    for (const part of where.and) {
      const key = pinnedKey(part, keyField);
      if (key !== undefined) return key;
    }
    return undefined;
  }
  if ('or' in where || 'not' in where) return undefined;
  const value = (where as Record<string, Scalar | { eq?: Scalar }>)[keyField];
  const eq = value !== null && typeof value === 'object' ? value.eq : value;
  return typeof eq === 'string' || (typeof eq === 'number' && Number.isFinite(eq)) ? String(eq) : undefined;
}
