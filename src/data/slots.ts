/**
 * Key → hash slot. The function is part of the on-disk format: a document's slot decides which
 * shard holds it, so changing this function would strand every stored document. Never change it.
 *
 * slotOf(key) = CRC16/XMODEM(UTF-8 bytes of key) mod SLOT_COUNT, the same CRC Redis Cluster
 * uses (polynomial 0x1021, initial value 0, no reflection, no final xor). With SLOT_COUNT = 4096
 * the slot is the CRC's low 12 bits. CRC16 is cheap, well studied for this use and spreads
 * short, similar keys evenly across the low bits.
 */
import { SLOT_COUNT } from './types.ts';

const CRC16_TABLE = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
}

function crcByte(crc: number, byte: number): number {
  return ((crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ byte) & 0xff]) & 0xffff;
}

/** CRC16/XMODEM of the string's UTF-8 encoding, computed without allocating a buffer. */
export function crc16(value: string): number {
  let crc = 0;
  for (let i = 0; i < value.length; i++) {
    let code = value.charCodeAt(i);
    if (code < 0x80) {
      crc = crcByte(crc, code);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    // Lone surrogates encode as U+FFFD, as TextEncoder and Buffer do.
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x800) {
      crc = crcByte(crc, 0xc0 | (code >> 6));
    } else if (code < 0x10000) {
      crc = crcByte(crc, 0xe0 | (code >> 12));
      crc = crcByte(crc, 0x80 | ((code >> 6) & 0x3f));
    } else {
      crc = crcByte(crc, 0xf0 | (code >> 18));
      crc = crcByte(crc, 0x80 | ((code >> 12) & 0x3f));
      crc = crcByte(crc, 0x80 | ((code >> 6) & 0x3f));
    }
    crc = crcByte(crc, 0x80 | (code & 0x3f));
  }
  return crc;
}

/** The hash slot of a partition key, in [0, SLOT_COUNT). A pure function of the key: stable forever. */
export function slotOf(key: string): number {
  return crc16(key) % SLOT_COUNT;
}

/** Sorted, de-duplicated slots as runs [first, last]: how slot lists travel and filter. */
export function slotRanges(slots: readonly number[]): Array<[number, number]> {
  const sorted = [...slots].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const slot of sorted) {
    const last = out[out.length - 1];
    if (last && slot === last[1] + 1) last[1] = slot;
    else if (!last || slot > last[1]) out.push([slot, slot]);
  }
  return out;
}
