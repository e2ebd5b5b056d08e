import { errorFromWire } from '../../core/index.ts';
import type { DataCaller } from './data-router.ts';

/** Ops per shardBatch call; a longer queue goes as several calls. */
const MAX_OPS_PER_CALL = 256;
/**
 * Calls outstanding per node before further ops wait for an answer. Waiting costs little (the
 * node would only queue them) and lets batches grow with the load, which matters because each
 * call costs a socket write on both ends, the dearest part of a small op.
 */
const MAX_IN_FLIGHT = 2;
/** How long ops are held back for a node at MAX_IN_FLIGHT, so a slow call (a write waiting on a fence) does not stall the node's other ops. */
const HOLD_MS = 10;

interface Queued {
  action: string;
  params: Record<string, unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type OpAnswer = { value: unknown } | { error: unknown };

/**
 * Automatic pipelining of single-document calls: calls for the same node made during one
 * event-loop turn travel as one `$data.shardBatch`, so the per-call cost (encoding, dispatch,
 * middleware) is paid once per batch, and the node can group-commit the writes among them.
 * Each op keeps its own answer: one op's redirect or conflict fails that op alone, and the
 * router retries it by itself. A lone call goes as its own action, unchanged.
 */
export class CallPipeline {
  private readonly caller: DataCaller;
  private queues = new Map<string, Queued[]>();
  /** Calls outstanding per node. */
  private readonly inFlight = new Map<string, number>();
  /** When the last call to each node with calls outstanding went out. */
  private readonly lastSent = new Map<string, number>();
  private scheduled = false;
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(caller: DataCaller) {
    this.caller = caller;
  }

  call(node: string, action: string, params: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(node);
      if (!queue) this.queues.set(node, (queue = []));
      queue.push({ action, params, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const now = performance.now();
    let holdUntil = Infinity;
    for (const [node, queue] of this.queues) {
      if ((this.inFlight.get(node) ?? 0) >= MAX_IN_FLIGHT) {
        const until = (this.lastSent.get(node) ?? 0) + HOLD_MS;
        if (until > now) {
          holdUntil = Math.min(holdUntil, until);
          continue;
        }
      }
      this.queues.delete(node);
      for (let i = 0; i < queue.length; i += MAX_OPS_PER_CALL) this.send(node, queue.slice(i, i + MAX_OPS_PER_CALL));
    }
    if (holdUntil !== Infinity && !this.holdTimer) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        this.flush();
      }, holdUntil - now);
      // Held ops belong to callers who keep the process alive themselves.
      this.holdTimer.unref();
    }
  }

  /** When a node answers, what queued for it meanwhile goes out (at the end of this turn, with whatever else comes). */
  private settled(node: string): void {
    const left = (this.inFlight.get(node) ?? 1) - 1;
    if (left > 0) this.inFlight.set(node, left);
    else {
      this.inFlight.delete(node);
      this.lastSent.delete(node);
    }
    if (this.queues.has(node) && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private send(node: string, ops: Queued[]): void {
    this.inFlight.set(node, (this.inFlight.get(node) ?? 0) + 1);
    this.lastSent.set(node, performance.now());
    const done = () => this.settled(node);
    if (ops.length === 1) {
      const [op] = ops;
      this.caller.call('$data', 1, op.action, op.params, { node }).then(op.resolve, op.reject).finally(done);
      return;
    }
    const batch = { ops: ops.map((op) => ({ action: op.action, params: op.params })) };
    void this.caller.call('$data', 1, 'shardBatch', batch, { node }).then(
      (answers) => {
        const list = answers as OpAnswer[];
        ops.forEach((op, i) => {
          const answer = list[i];
          if (answer && 'value' in answer) op.resolve(answer.value);
          else op.reject(errorFromWire(answer?.error));
        });
      },
      // The call as a whole failed: every op shares its fate (and its "not sent" flag, if any).
      (err: unknown) => {
        for (const op of ops) op.reject(err);
      },
    ).finally(done);
  }
}
