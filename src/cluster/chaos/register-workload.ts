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
 *
 * Keys come in generations: once the workload has made `opsPerKey` operations per key on one
 * set, the clients move on to a fresh set. The checker's search grows faster than linearly with
 * one key's history (each uncertain operation stays open to the end), so bounded histories per
 * key keep a long run checkable; the keys left behind still have to keep their last
 * acknowledged value until the final read.
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
  /** The keys of each generation, from 0; every call gives a set disjoint from the others. */
  keys: (generation: number) => readonly string[];
  /** Operations per key before the next generation (default 1000; Infinity: one generation). */
  opsPerKey?: number;
  /**
   * Operations open on one key at a time, at most (default 4); a client finding every key at the
   * limit waits. A kill leaves every operation open on the node's keys uncertain, and each one
   * uncertain on a key doubles what the checker may have to search there.
   */
  maxOpenPerKey?: number;
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
const DEFAULT_OPS_PER_KEY = 1000;
const DEFAULT_MAX_OPEN_PER_KEY = 4;

/** What a client last learned of a key: its value and version, or that it was absent. */
type Known = StoredRegister | 'absent';

/** Runs the clients until stopped. */
export class RegisterWorkload {
  readonly #options: RegisterWorkloadOptions;
  readonly #mix: Array<[WorkloadOperation, number]>;
  #nextValue = 1;
  #generations: Array<readonly string[]> = [];
  #opsInGeneration = 0;
  /** Operations open per key. */
  readonly #open = new Map<string, number>();
  #running = false;
  #clients: Promise<void>[] = [];

  constructor(options: RegisterWorkloadOptions) {
    if (!Number.isInteger(options.clients) || options.clients < 1) throw new RangeError('a workload needs at least one client');
    this.#options = options;
    this.#nextGeneration();
    const mix = { ...DEFAULT_MIX, ...options.mix };
    this.#mix = (Object.entries(mix) as Array<[WorkloadOperation, number]>).filter(([, weight]) => weight > 0);
    if (this.#mix.length === 0) throw new RangeError('the operation mix gives every operation weight 0');
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#clients = Array.from({ length: this.#options.clients }, (_, i) => this.#client(`c${i + 1}`, seededRandom(this.#options.seed * 7919 + i + 1)));
  }

  /** Every key used so far, generation by generation. */
  keys(): string[] {
    return this.#generations.flat();
  }

  get generations(): number {
    return this.#generations.length;
  }

  #nextGeneration(): void {
    const keys = this.#options.keys(this.#generations.length);
    if (keys.length === 0) throw new RangeError('a workload needs at least one key');
    this.#generations.push(keys);
    this.#opsInGeneration = 0;
  }

  /**
   * The key of the next operation, counted as open until `#release`: a random one of the current
   * generation with room for it, or undefined when none has. A generation moves on once it has
   * had its share.
   */
  #take(random: () => number): string | undefined {
    let keys = this.#generations[this.#generations.length - 1];
    if (this.#opsInGeneration >= keys.length * (this.#options.opsPerKey ?? DEFAULT_OPS_PER_KEY)) {
      this.#nextGeneration();
      keys = this.#generations[this.#generations.length - 1];
    }
    const limit = this.#options.maxOpenPerKey ?? DEFAULT_MAX_OPEN_PER_KEY;
    const start = Math.floor(random() * keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(start + i) % keys.length];
      const open = this.#open.get(key) ?? 0;
      if (open >= limit) continue;
      this.#open.set(key, open + 1);
      this.#opsInGeneration++;
      return key;
    }
    return undefined;
  }

  #release(key: string): void {
    const open = (this.#open.get(key) ?? 1) - 1;
    if (open > 0) this.#open.set(key, open);
    else this.#open.delete(key);
  }

  /** Stops issuing operations and resolves once every open one has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
  }

  async #client(name: string, random: () => number): Promise<void> {
    const known = new Map<string, Known>();
    const thinkMs = this.#options.thinkMs ?? 2;
    while (this.#running) {
      const key = this.#take(random);
      if (key === undefined) {
        await sleep(1);
        continue;
      }
      try {
        await this.#operation(this.#choose(random), name, key, known, random);
      } finally {
        this.#release(key);
      }
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
