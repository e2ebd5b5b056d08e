/**
 * How long the fuzz properties run and with which seed. In CI (no FUZZ_MINUTES) each property
 * runs a fixed number of cases from a fixed seed, so a failure reproduces exactly; with
 * FUZZ_MINUTES (set by `npm run fuzz -- --minutes N`) each runs for its share of that time from
 * a fresh seed. Every property prints its case count and seed; a failure prints the seed and
 * the shrunk counterexample (FUZZ_SEED=… reruns it).
 */
import fc from 'fast-check';

const minutes = Number(process.env.FUZZ_MINUTES ?? '0');
/** The properties of all lb fuzz files share the time: this is one property's share. */
const PROPERTIES = 19;
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : minutes > 0 ? Date.now() % 0x7fffffff : 0x5b0a1;

export interface FuzzResult {
  cases: number;
}

function parameters<T>(ciRuns: number): fc.Parameters<T> {
  if (minutes <= 0) return { seed, numRuns: ciRuns };
  return { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: (minutes * 60_000) / PROPERTIES, markInterruptAsFailure: false };
}

const REPORT_CHARS = 4000;

function report(name: string, details: fc.RunDetails<unknown>): void {
  console.log(`fuzz ${name}: ${details.numRuns} cases (seed ${details.seed})`);
  if (!details.failed) return;
  const text = fc.defaultReportMessage(details) ?? '';
  // A counterexample can hold kilobytes of binary; its start says enough, the seed replays the rest.
  const shown = text.length > REPORT_CHARS ? `${text.slice(0, REPORT_CHARS)}… (${text.length - REPORT_CHARS} more characters)` : text;
  throw new Error(`${name} failed; rerun with FUZZ_SEED=${details.seed}\n${shown}`);
}

/** Checks a synchronous property; `ciRuns` cases in CI. */
export function checkProperty<Ts extends [unknown, ...unknown[]]>(name: string, ciRuns: number, property: fc.IProperty<Ts>): void {
  report(name, fc.check(property, parameters<Ts>(ciRuns)) as fc.RunDetails<unknown>);
}

/** Checks an asynchronous (or synchronous) property; `ciRuns` cases in CI. */
export async function checkAsyncProperty<Ts>(name: string, ciRuns: number, property: fc.IRawProperty<Ts>): Promise<void> {
  report(name, (await fc.check(property, parameters<Ts>(ciRuns))) as fc.RunDetails<unknown>);
}

/** Cut points for `length` bytes: sorted, distinct, inside (0, length). */
export function cutsOf(length: number, fractions: readonly number[]): number[] {
  const cuts = new Set<number>();
  for (const f of fractions) {
    const at = Math.floor(f * length);
    if (at > 0 && at < length) cuts.add(at);
  }
  return [...cuts].sort((a, b) => a - b);
}

/** `buf` cut at `cuts` into consecutive pieces. */
export function piecesOf(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of cuts) {
    pieces.push(buf.subarray(from, at));
    from = at;
  }
  pieces.push(buf.subarray(from));
  return pieces;
}

/** Arbitrary cut fractions: up to `max` split points. */
export const fractions = (max = 6): fc.Arbitrary<number[]> => fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: max });
