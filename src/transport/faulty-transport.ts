/**
 * A Transport that applies a FaultPlan to the traffic of another one, whatever its driver:
 * the faults live here, above the contract, so every driver honours them the same way.
 *
 * With no fault set it is a single boolean check per message in front of the wrapped
 * transport: no closure, no allocation, nothing else on the path a benchmark measures.
 *
 * What a fault does, seen from the process holding the plan:
 * - partition 'out': requests and one-way messages to the peer fail at once with UNAVAILABLE
 *   and `sent: false`, as for a peer that cannot be reached (nothing ran there);
 * - partition 'in': requests and one-way messages from the peer are dropped before any handler
 *   runs; the sender waits out its timeout. A dropped request is answered UNAVAILABLE
 *   (`sent: false`, true: it never ran) once the partition heals or this transport closes, so
 *   the wrapped driver does not keep it pending for ever; a sender that timed out meanwhile
 *   drops that late answer as it drops any other;
 * - latency: a request or one-way message waits before it leaves and its answer waits again
 *   before the caller sees it; messages to one peer leave in the order sent, jitter or not;
 * - dropRate: the message is lost on the way; a lost request fails with TIMEOUT at its
 *   deadline, a lost one-way message resolves as if written.
 * A fault applies to messages sent or received while it is set; an answer already on its way
 * when a fault is set arrives as it would have.
 */
import { ShoalError } from '../core/index.ts';
import { DelayLine } from './delay-line.ts';
import { cutsInbound, cutsOutbound, FaultPlan, type PeerFault } from './fault-plan.ts';
import { FaultyCall } from './faulty-call.ts';
import {
  addressKey,
  type NotifyHandler,
  type PeerAddress,
  type PeerInfo,
  type RequestHandler,
  type RequestOptions,
  type Transport,
  type TransportStats,
} from './index.ts';

interface HeldInbound {
  nodeId: string;
  reject(err: ShoalError): void;
}

export class FaultyTransport implements Transport {
  readonly #inner: Transport;
  readonly #plan: FaultPlan;
  /** True while no fault is set and no message is held back: then every call goes straight through. */
  #plain: boolean;
  #closed = false;
  readonly #calls = new Set<FaultyCall>();
  readonly #lines = new Map<string, DelayLine>();
  readonly #heldInbound = new Set<HeldInbound>();
  readonly #unsubscribe: () => void;

  constructor(inner: Transport, plan: FaultPlan) {
    this.#inner = inner;
    this.#plan = plan;
    this.#plain = !plan.active;
    this.#unsubscribe = plan.onChange(this.#planChanged);
  }

  /** The plan this transport applies; set and clear faults on it. */
  get faults(): FaultPlan {
    return this.#plan;
  }

  // Inbound

  listen(address: PeerAddress): Promise<PeerAddress> {
    return this.#inner.listen(address);
  }

  onRequest(handler: RequestHandler): void {
    const plan = this.#plan;
    this.#inner.onRequest((payload, from) => (plan.active ? this.#inboundRequest(handler, payload, from) : handler(payload, from)));
  }

  onNotify(handler: NotifyHandler): void {
    const plan = this.#plan;
    this.#inner.onNotify((payload, from) => {
      if (plan.active) {
        const fault = plan.inbound(from.nodeId);
        if (fault !== undefined && cutsInbound(fault)) return;
      }
      handler(payload, from);
    });
  }

  onPeerDown(listener: (peer: PeerAddress) => void): void {
    this.#inner.onPeerDown(listener);
  }

  // Outbound

  request(peer: PeerAddress, payload: unknown, options: RequestOptions): Promise<unknown> {
    if (this.#plain) return this.#inner.request(peer, payload, options);
    return this.#faultyRequest(peer, payload, options);
  }

  notify(peer: PeerAddress, payload: unknown): Promise<void> {
    if (this.#plain) return this.#inner.notify(peer, payload);
    return this.#faultyNotify(peer, payload);
  }

  // Lifecycle

  stats(): TransportStats {
    const stats = this.#inner.stats();
    let own = 0;
    for (const call of this.#calls) if (call.phase !== 'inner') own++;
    return own === 0 ? stats : { ...stats, inflight: stats.inflight + own };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#unsubscribe();
      const calls = [...this.#calls];
      this.#calls.clear();
      for (const call of calls) call.fail(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: call.phase !== 'waiting' }));
      const lines = [...this.#lines.values()];
      this.#lines.clear();
      for (const line of lines) line.cancelAll();
      this.#releaseInbound(() => true);
      this.#plain = true;
    }
    return this.#inner.close();
  }

  // Faults

  #inboundRequest(handler: RequestHandler, payload: unknown, from: PeerInfo): Promise<unknown> {
    const fault = this.#plan.inbound(from.nodeId);
    if (fault === undefined || !cutsInbound(fault) || this.#closed) return handler(payload, from);
    if (fault.reject === true) return Promise.reject(new ShoalError('UNAVAILABLE', `refused: partitioned from ${from.nodeId}`, { sent: false }));
    return new Promise((_resolve, reject) => {
      this.#heldInbound.add({ nodeId: from.nodeId, reject });
    });
  }

  #faultyRequest(peer: PeerAddress, payload: unknown, options: RequestOptions): Promise<unknown> {
    const key = addressKey(peer);
    const fault = this.#closed ? undefined : this.#plan.outbound(key, options.peerName);
    const line = this.#lines.get(key);
    if (fault === undefined && line === undefined) return this.#inner.request(peer, payload, options);
    const name = options.peerName ?? key;
    if (fault !== undefined && cutsOutbound(fault)) {
      return Promise.reject(new ShoalError('UNAVAILABLE', `${name} cannot be reached (partitioned)`, { sent: false, peer: name }));
    }
    return new Promise((resolve, reject) => {
      const call = new FaultyCall(this.#plan.clock, options.timeoutMs, name, resolve, reject, () => this.#calls.delete(call));
      this.#calls.add(call);
      if (fault !== undefined && this.#plan.drops(fault)) {
        call.lose();
        return;
      }
      const send = (): void => {
        const remainingMs = call.deadline - this.#plan.clock.now();
        // Out of time while held back: the deadline timer answers TIMEOUT.
        if (remainingMs <= 0 || !call.startSend()) return;
        this.#inner.request(peer, payload, { ...options, timeoutMs: remainingMs }).then(
          (value) => call.answer(true, value, this.#answerDelay(fault)),
          (err: unknown) => call.answer(false, err, this.#answerDelay(fault)),
        );
      };
      const delay = fault === undefined ? 0 : this.#plan.latency(fault);
      if (delay > 0 || line !== undefined) this.#line(key).push(delay, send, () => {});
      else send();
    });
  }

  #faultyNotify(peer: PeerAddress, payload: unknown): Promise<void> {
    const key = addressKey(peer);
    const fault = this.#closed ? undefined : this.#plan.outbound(key, undefined);
    const line = this.#lines.get(key);
    if (fault === undefined && line === undefined) return this.#inner.notify(peer, payload);
    if (fault !== undefined && cutsOutbound(fault)) {
      return Promise.reject(new ShoalError('UNAVAILABLE', `${key} cannot be reached (partitioned)`, { sent: false, peer: key }));
    }
    if (fault !== undefined && this.#plan.drops(fault)) return Promise.resolve();
    const delay = fault === undefined ? 0 : this.#plan.latency(fault);
    if (delay === 0 && line === undefined) return this.#inner.notify(peer, payload);
    return new Promise((resolve, reject) => {
      this.#line(key).push(
        delay,
        () => {
          this.#inner.notify(peer, payload).then(resolve, reject);
        },
        () => reject(new ShoalError('UNAVAILABLE', 'transport is closed', { sent: false, peer: key })),
      );
    });
  }

  #answerDelay(fault: PeerFault | undefined): number {
    return fault === undefined ? 0 : this.#plan.latency(fault);
  }

  #line(key: string): DelayLine {
    let line = this.#lines.get(key);
    if (line === undefined) {
      const created = new DelayLine(this.#plan.clock, () => {
        if (this.#lines.get(key) === created) this.#lines.delete(key);
        this.#updatePlain();
      });
      line = created;
      this.#lines.set(key, line);
      this.#plain = false;
    }
    return line;
  }

  readonly #planChanged = (): void => {
    this.#updatePlain();
    this.#releaseInbound((nodeId) => {
      const fault = this.#plan.inbound(nodeId);
      return fault === undefined || !cutsInbound(fault);
    });
  };

  #updatePlain(): void {
    this.#plain = this.#closed || (!this.#plan.active && this.#lines.size === 0);
  }

  #releaseInbound(healed: (nodeId: string) => boolean): void {
    for (const held of this.#heldInbound) {
      if (!healed(held.nodeId)) continue;
      this.#heldInbound.delete(held);
      held.reject(new ShoalError('UNAVAILABLE', 'the request was dropped by a partition', { sent: false }));
    }
  }
}

/** Wraps a transport so the plan's faults apply to its traffic; with no fault set it behaves exactly as the transport. */
export function withFaults(transport: Transport, plan: FaultPlan = new FaultPlan()): FaultyTransport {
  return new FaultyTransport(transport, plan);
}
