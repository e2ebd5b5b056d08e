/**
 * One outbound request that a fault touches (held back by latency, or lost): it settles once,
 * by its deadline at the latest, with the answer, the wrapped transport's error or TIMEOUT.
 */
import { ShoalError } from '../core/index.ts';
import type { FaultClock } from './fault-plan.ts';

/** waiting: held before it leaves; inner: with the wrapped transport; lost: dropped on the way; answering: its answer is held back. */
export type FaultyCallPhase = 'waiting' | 'inner' | 'lost' | 'answering' | 'done';

export class FaultyCall {
  phase: FaultyCallPhase = 'waiting';
  /** The clock's time by which the call settles. */
  readonly deadline: number;
  readonly #clock: FaultClock;
  readonly #timeoutMs: number;
  readonly #peerName: string;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (err: unknown) => void;
  readonly #onSettled: () => void;
  readonly #deadlineTimer: unknown;
  #answerTimer: unknown;

  constructor(
    clock: FaultClock,
    timeoutMs: number,
    peerName: string,
    resolve: (value: unknown) => void,
    reject: (err: unknown) => void,
    onSettled: () => void,
  ) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#peerName = peerName;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#onSettled = onSettled;
    this.deadline = clock.now() + timeoutMs;
    this.#deadlineTimer = clock.setTimeout(this.#expire, timeoutMs);
  }

  /** Marks it as handed to the wrapped transport; false if it already settled. */
  startSend(): boolean {
    if (this.phase !== 'waiting') return false;
    this.phase = 'inner';
    return true;
  }

  /** Lost on the way: only its deadline settles it. */
  lose(): void {
    if (this.phase === 'waiting') this.phase = 'lost';
  }

  /** The wrapped transport settled it; the caller sees that after `delayMs`, if within the deadline. */
  answer(ok: boolean, value: unknown, delayMs: number): void {
    if (this.phase !== 'inner') return;
    if (delayMs <= 0) {
      this.#settle(ok, value);
      return;
    }
    this.phase = 'answering';
    this.#answerTimer = this.#clock.setTimeout(() => this.#settle(ok, value), delayMs);
  }

  fail(err: ShoalError): void {
    this.#settle(false, err);
  }

  readonly #expire = (): void => {
    this.#settle(false, new ShoalError('TIMEOUT', `no answer from ${this.#peerName} within ${this.#timeoutMs} ms`, { timeoutMs: this.#timeoutMs, peer: this.#peerName }));
  };

  #settle(ok: boolean, value: unknown): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.#clock.clearTimeout(this.#deadlineTimer);
    if (this.#answerTimer !== undefined) this.#clock.clearTimeout(this.#answerTimer);
    this.#onSettled();
    if (ok) this.#resolve(value);
    else this.#reject(value);
  }
}
