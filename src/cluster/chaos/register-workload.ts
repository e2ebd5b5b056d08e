/**
 * The register workload of a chaos run: concurrent clients, each with one operation open at a
 * time, doing random reads, writes, compare-and-sets and increments on a few keys, and
 * recording every operation in a HistoryRecorder as it is invoked and as it ends.
 *
 * Every value written is unique and far from every other (a multiple of a million, increments
 * add a few), so a register never holds the same value twice. That makes the document version a
 * compare-and-set names and the value it expects one and the same thing: a swap refused at
 * version v is a swap refused because the value was not the one read at v, and the checker's
 * register model (which compares values) judges exactly what the store did.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../core/index.ts';
import { fateOfError } from './fate-of-error.ts';
import type { HistoryRecorder, OperationHandle } from './history.ts';
import type { RegisterStore, StoredRegister } from './register-store.ts';

export type WorkloadOperation = 'read' | 'write' | 'cas' | 'increment';

export interface RegisterWorkloadOptions {
  store: RegisterStore;
  recorder: HistoryRecorder;
  keys: readonly string[];
  clients: number;
  /** Each client draws its choices from its own sequence derived from this. */
  seed: number;
  /** Relative weights of the operations; default read 3, write 2, cas 3, increment 2. */
  mix?: Partial<Record<WorkloadOperation, number>>;
  /** Pause after each operation, up to this long at random (default 2 ms): keeps histories within what the checker can search. */
  thinkMs?: number;
}

const DEFAULT_MIX: Record<WorkloadOperation, number> = { read: 3, write: 2, cas: 3, increment: 2 };
/** Written values are multiples of this; increments add 1 to MAX_DELTA, never enough to reach the next. */
const VALUE_STEP = 1_000_000;
const MAX_DELTA = 5;

/** What a client last learned of a key: its value and version, or that it was absent. */
type Known = StoredRegister | 'absent';

/** Runs the clients until stopped. */
export class RegisterWorkload {
  readonly #options: RegisterWorkloadOptions;
  readonly #mix: Array<[WorkloadOperation, number]>;
  #nextValue = 1;
  #running = false;
  #clients: Promise<void>[] = [];

  constructor(options: RegisterWorkloadOptions) {
    if (options.keys.length === 0) throw new RangeError('a workload needs at least one key');
    if (!Number.isInteger(options.clients) || options.clients < 1) throw new RangeError('a workload needs at least one client');
    this.#options = options;
    const mix = { ...DEFAULT_MIX, ...options.mix };
    this.#mix = (Object.entries(mix) as Array<[WorkloadOperation, number]>).filter(([, weight]) => weight > 0);
    if (this.#mix.length === 0) throw new RangeError('the operation mix gives every operation weight 0');
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#clients = Array.from({ length: this.#options.clients }, (_, i) => this.#client(`c${i + 1}`, seededRandom(this.#options.seed * 7919 + i + 1)));
  }

  /** Stops issuing operations and resolves once every open one has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
  }

  async #client(name: string, random: () => number): Promise<void> {
    const known = new Map<string, Known>();
    const thinkMs = this.#options.thinkMs ?? 2;
    const { keys } = this.#options;
    while (this.#running) {
      const key = keys[Math.floor(random() * keys.length)];
      await this.#operation(this.#choose(random), name, key, known, random);
      if (thinkMs > 0) await sleep(random() * thinkMs);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #choose(random: () => number): WorkloadOperation {
    const total = this.#mix.reduce((sum, [, weight]) => sum + weight, 0);
    let x = random() * total;
    for (const [op, weight] of this.#mix) {
      if ((x -= weight) < 0) return op;
    }
    return this.#mix[this.#mix.length - 1][0];
  }

  async #operation(op: WorkloadOperation, client: string, key: string, known: Map<string, Known>, random: () => number): Promise<void> {
    const { store, recorder } = this.#options;
    switch (op) {
      case 'read': {
        const handle = recorder.invoke(client, key, { kind: 'read' });
        await settle(handle, store.get(key), (stored) => {
          known.set(key, stored ?? 'absent');
          return stored?.n ?? null;
        });
        return;
      }
      case 'write': {
        const value = this.#value();
        const handle = recorder.invoke(client, key, { kind: 'write', value });
        await settle(handle, store.put(key, value, `${client}#${handle.id}`), (stored) => void known.set(key, stored));
        return;
      }
      case 'cas': {
        const before = known.get(key) ?? 'absent';
        const value = this.#value();
        const handle = recorder.invoke(client, key, { kind: 'cas', expected: before === 'absent' ? null : before.n, value });
        const writer = `${client}#${handle.id}`;
        // From absent: an insert. From a value read at a version: an update or a put naming that version.
        const swap =
          before === 'absent'
            ? store.put(key, value, writer, 0)
            : random() < 0.5
              ? store.update(key, value, writer, before.version)
              : store.put(key, value, writer, before.version);
        await settle(
          handle,
          swap,
          (stored) => {
            known.set(key, stored);
            return true;
          },
          () => {
            known.delete(key);
            return false;
          },
        );
        return;
      }
      case 'increment': {
        const delta = 1 + Math.floor(random() * MAX_DELTA);
        const handle = recorder.invoke(client, key, { kind: 'increment', delta });
        await settle(handle, store.increment(key, delta), (stored) => {
          known.set(key, stored);
          return stored.n;
        });
        return;
      }
    }
  }

  #value(): number {
    return this.#nextValue++ * VALUE_STEP;
  }
}

/**
 * Ends `handle` with the call's fate: `ok` with what `onOk` makes of the answer; for a refusal,
 * `ok` with what `onRefused` answers (a compare-and-set that lost), or `failed` where a refusal
 * means the operation did not happen; otherwise `failed` or `uncertain` by the error.
 */
async function settle<T, R>(handle: OperationHandle<R>, call: Promise<T>, onOk: (value: T) => R, onRefused?: () => R): Promise<void> {
  let value: T;
  try {
    value = await call;
  } catch (err) {
    const fate = fateOfError(err);
    if (fate === 'refused' && onRefused) handle.ok(onRefused());
    else if (fate === 'uncertain') handle.uncertain();
    else handle.fail();
    return;
  }
  handle.ok(onOk(value));
}
