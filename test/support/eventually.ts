/**
 * The one way a test waits for something that happens on its own time: poll a check until it
 * gives a truthy value, and fail after a deadline saying what was awaited and what was last
 * seen. Deadlines are generous (a loaded machine is slow, not wrong); a test never asserts on
 * how long the wait took.
 */
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** What is awaited, phrased to follow "timed out waiting for". */
  message: string;
  /** How long to keep checking before failing (default 10 s). */
  timeoutMs?: number;
  /** Pause between checks (default 20 ms). */
  intervalMs?: number;
}

/** What `eventually` resolves with: the check's value once it is truthy. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 20;

function describe(value: unknown): string {
  return inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 200 });
}

/**
 * Calls `check` until it returns (or resolves to) a truthy value and resolves with that value.
 * A check that throws counts as "not yet"; the last error is quoted if the deadline passes.
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing (the check never returned)';
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
      last = `value ${describe(value)}`;
    } catch (err) {
      last = `error ${err instanceof Error ? err.message : describe(err)}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message}; last seen: ${last}`);
    }
    await sleep(intervalMs);
  }
}
