import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc16, slotOf } from '../../src/data/slots.ts';
import { SLOT_COUNT } from '../../src/data/types.ts';
import { seededRandom, testSeed } from '../support/data-random.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:./é漢😀';

function randomKey(random: ReturnType<typeof seededRandom>): string {
  const shape = random.int(0, 3);
  if (shape === 0) return `user:${random.int(0, 10_000_000)}`;
  if (shape === 1) return String(random.int(0, 2 ** 31));
  const chars = [...ALPHABET];
  let key = '';
  // At least 6 characters: shorter keys repeat, and repeated keys are not a test of spread.
  const length = random.int(6, 24);
  for (let i = 0; i < length; i++) key += random.pick(chars);
  return key;
}

describe('slotOf', () => {
  it('matches fixed known values (CRC16/XMODEM, as Redis Cluster)', () => {
    assert.equal(crc16('123456789'), 0x31c3);
    // Redis: CLUSTER KEYSLOT foo = 12182, bar = 5061, hello = 866 (mod 16384); here mod 4096.
    assert.equal(slotOf('foo'), 12182 % SLOT_COUNT);
    assert.equal(slotOf('bar'), 5061 % SLOT_COUNT);
    assert.equal(slotOf('hello'), 866);
    assert.equal(slotOf('user:1000'), 1649);
    assert.equal(slotOf(''), 0);
    assert.equal(slotOf('ключ'), 2111);
    assert.equal(slotOf('😀x'), 2232);
  });

  it('hashes the UTF-8 bytes, as a byte-level implementation would', () => {
    const random = seededRandom(testSeed(7));
    for (let i = 0; i < 2000; i++) {
      const key = randomKey(random);
      let crc = 0;
      for (const byte of Buffer.from(key, 'utf8')) {
        crc ^= byte << 8;
        for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
      }
      assert.equal(crc16(key), crc, `key ${JSON.stringify(key)} (seed ${random.seed})`);
    }
  });

  it('is deterministic and in range', () => {
    const random = seededRandom(testSeed(11));
    for (let i = 0; i < 10_000; i++) {
      const key = randomKey(random);
      const slot = slotOf(key);
      assert.ok(Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT);
      assert.equal(slotOf(String(key)), slot);
    }
  });

  // 800 000 keys rather than 200 000: with 200 000 a bucket's sampling noise (σ ≈ 1.8% of the
  // mean) makes ±5% fail for about a quarter of seeds even for a perfectly uniform hash; here
  // ±5% is 4.4σ, so a failure means the hash is skewed, not that the seed was unlucky.
  it('spreads random keys evenly: each of 64 slot buckets within ±5% of the mean, chi-square over all slots', () => {
    const seed = testSeed(20240601);
    const random = seededRandom(seed);
    const keys = 800_000;
    const buckets = new Array<number>(64).fill(0);
    const perSlot = new Uint32Array(SLOT_COUNT);
    for (let i = 0; i < keys; i++) {
      const slot = slotOf(randomKey(random));
      perSlot[slot]++;
      buckets[Math.floor(slot / (SLOT_COUNT / 64))]++;
    }
    const mean = keys / 64;
    for (const [i, count] of buckets.entries()) {
      assert.ok(Math.abs(count - mean) <= mean * 0.05, `bucket ${i} holds ${count}, mean ${mean} (seed ${seed})`);
    }
    // Chi-square over all 4096 slots: its ratio to the degrees of freedom has σ ≈ 0.022 when uniform.
    const expected = keys / SLOT_COUNT;
    let chiSquare = 0;
    for (const count of perSlot) chiSquare += (count - expected) ** 2 / expected;
    const ratio = chiSquare / (SLOT_COUNT - 1);
    assert.ok(ratio > 0.9 && ratio < 1.1, `chi-square / df = ${ratio} (seed ${seed})`);
  });
});
