/**
 * Fast non-cryptographic string hashing for sticky strategies: FNV-1a over the string's
 * bytes, then murmur3's finalizer, because plain FNV-1a spreads short, similar keys
 * (IP addresses, "node-1", "node-2") poorly across the high bits.
 */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Unsigned 32-bit hash of a string; different seeds give independent hashes. */
export function hashString(value: string, seed = 0): number {
  let hash = (FNV_OFFSET_BASIS ^ seed) | 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    hash = Math.imul(hash ^ (code & 0xff), FNV_PRIME);
    // Code units above one byte contribute their high byte too, so non-ASCII keys differ.
    if (code > 0xff) hash = Math.imul(hash ^ (code >>> 8), FNV_PRIME);
  }
  return mix32(hash);
}

/** murmur3's fmix32: a bijective avalanche of a 32-bit integer, returned unsigned. */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 2^32, to turn an unsigned hash into a fraction of the key space. */
export const HASH_SPACE = 0x1_0000_0000;
