/**
 * A cluster made up for chaos runs in unit tests: registers in memory that behave like a store
 * under faults (refusing while a node is down, timing out after or before applying), and an
 * injector that drives them. Each fault mode has a known truth, so a test knows the verdict to
 * expect.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector, PlannedFault, RegisterStore, StoredRegister } from '../../src/cluster/index.ts';
import { seededRandom, ShoalError } from '../../src/core/index.ts';

export interface MemoryRegistersOptions {
  seed?: number;
  /** While faulty, the share of writes that apply and then answer TIMEOUT, and that time out before they apply. */
  timeoutAfterApply?: number;
  timeoutBeforeApply?: number;
  /** Reads answer the value this many writes back (a lagging replica): a store that is not linearizable. */
  staleReads?: boolean;
}

interface Cell extends StoredRegister {
  /** Values before the current one, newest last. */
  earlier: number[];
}

/** Keys hash to `node-1` or `node-2` by their first character's code. */
export class MemoryRegisters implements RegisterStore {
  readonly #cells = new Map<string, Cell>();
  readonly #random: () => number;
  readonly #options: MemoryRegistersOptions;
  /** Nodes whose keys refuse every call (sent: false), as after a kill. */
  readonly down = new Set<string>();
  /** Nodes whose calls time out now and then, as over a partition. */
  readonly faulty = new Set<string>();

  constructor(options: MemoryRegistersOptions = {}) {
    this.#options = options;
    this.#random = seededRandom(options.seed ?? 1);
  }

  locate(key: string): string {
    return key.charCodeAt(1) % 2 === 0 ? 'node-2' : 'node-1';
  }

  get(key: string): Promise<StoredRegister | undefined> {
    return this.#call(key, false, () => {
      const cell = this.#cells.get(key);
      if (cell === undefined) return undefined;
      if (this.#options.staleReads && cell.earlier.length > 0) return { n: cell.earlier[cell.earlier.length - 1], version: cell.version - 1 };
      return { n: cell.n, version: cell.version };
    });
  }

  put(key: string, n: number, _writer: string, expectVersion?: number): Promise<StoredRegister> {
    return this.#call(key, true, () => {
      const cell = this.#cells.get(key);
      if (expectVersion !== undefined && (cell?.version ?? 0) !== expectVersion) throw new ShoalError('CONFLICT', 'version mismatch');
      return this.#set(key, n);
    });
  }

  update(key: string, n: number, _writer: string, expectVersion: number): Promise<StoredRegister> {
    return this.#call(key, true, () => {
      const cell = this.#cells.get(key);
      if (cell === undefined) throw new ShoalError('NOT_FOUND', 'no such document');
      if (cell.version !== expectVersion) throw new ShoalError('CONFLICT', 'version mismatch');
      return this.#set(key, n);
    });
  }

  increment(key: string, delta: number): Promise<StoredRegister> {
    return this.#call(key, true, () => this.#set(key, (this.#cells.get(key)?.n ?? 0) + delta));
  }

  /** Forgets the last value of every key, as a store that acknowledged writes it had not made durable. */
  loseLastWrites(): void {
    for (const cell of this.#cells.values()) {
      const previous = cell.earlier.pop();
      if (previous !== undefined) cell.n = previous;
    }
  }

  #set(key: string, n: number): StoredRegister {
    const cell = this.#cells.get(key);
    if (cell === undefined) {
      this.#cells.set(key, { n, version: 1, earlier: [] });
      return { n, version: 1 };
    }
    cell.earlier.push(cell.n);
    cell.n = n;
    cell.version++;
    return { n, version: cell.version };
  }

  /** Applies `run` at a moment between the call and its answer, as a remote store would. */
  async #call<T>(key: string, write: boolean, run: () => T): Promise<T> {
    const node = this.locate(key);
    await sleep(this.#random() * 2);
    if (this.down.has(node)) throw new ShoalError('UNAVAILABLE', `${node} is down`, { sent: false });
    const faulty = write && this.faulty.has(node);
    if (faulty && this.#random() < (this.#options.timeoutBeforeApply ?? 0)) throw new ShoalError('TIMEOUT', 'no answer (not applied)');
    const value = run();
    await sleep(this.#random() * 2);
    if (faulty && this.#random() < (this.#options.timeoutAfterApply ?? 0)) throw new ShoalError('TIMEOUT', 'no answer (applied)');
    return value;
  }
}

/** Kills take a node's keys down for a moment; partitions and slowness make its writes time out. */
export class FakeFaults implements FaultInjector {
  readonly #store: MemoryRegisters;
  readonly #onHeal: () => void;
  readonly injected: PlannedFault[] = [];
  healed = 0;

  constructor(store: MemoryRegisters, options: { onHeal?: () => void } = {}) {
    this.#store = store;
    this.#onHeal = options.onHeal ?? (() => {});
  }

  async nodes(): Promise<string[]> {
    return ['node-1', 'node-2'];
  }

  async inject(fault: PlannedFault): Promise<string> {
    this.injected.push(fault);
    const set = fault.kind === 'kill' ? this.#store.down : this.#store.faulty;
    set.add(fault.node);
    setTimeout(() => set.delete(fault.node), fault.forMs ?? 200).unref();
    return fault.kind === 'kill' ? 'pid 4242' : `for ${fault.forMs} ms`;
  }

  async healAll(): Promise<string[]> {
    this.healed++;
    this.#store.down.clear();
    this.#store.faulty.clear();
    this.#onHeal();
    return [];
  }

  async settled(): Promise<string[]> {
    return [];
  }
}
