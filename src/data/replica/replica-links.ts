import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { RaftMessage } from '../../consensus/index.ts';
import { silentLogger, toShoalError, type Logger } from '../../core/index.ts';
import type { ShardStore } from '../node/engines.ts';
import type { ReplicaReport } from '../node/replica-ops.ts';
import type { ReplicaPeers } from '../node/shard-host.ts';
import type { DataCaller } from '../router/data-router.ts';
import type { ReplicaGroup } from './replica-group.ts';

/** Consensus calls outstanding per peer; beyond it messages are dropped (the protocol resends what matters). */
const MAX_IN_FLIGHT_PER_PEER = 8;
const MESSAGE_TIMEOUT_MS = 2_000;
/** A copy travels in pieces well under the transport's frame limit. */
export const COPY_CHUNK_BYTES = 1024 * 1024;
const COPY_CALL_TIMEOUT_MS = 30_000;

/**
 * How this node's shard replicas reach their peers on other nodes: consensus messages for every
 * shard bound for one node travel together in one `$data.raft` call per event-loop turn, and a
 * copy of a whole store goes as a sequence of `$data.replicaCopy` pieces.
 */
export class ReplicaLinks implements ReplicaPeers {
  readonly #nodeId: string;
  readonly #caller: DataCaller;
  readonly #store: ShardStore;
  readonly #logger: Logger;
  readonly #outbox = new Map<string, Map<number, RaftMessage[]>>();
  readonly #inFlight = new Map<string, number>();
  #scheduled = false;
  #dropped = 0;

  constructor(options: { nodeId: string; caller: DataCaller; store: ShardStore; logger?: Logger }) {
    this.#nodeId = options.nodeId;
    this.#caller = options.caller;
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Messages dropped because a peer had too many calls outstanding. */
  get dropped(): number {
    return this.#dropped;
  }

  send(to: string, shard: number, messages: RaftMessage[]): void {
    let byShard = this.#outbox.get(to);
    if (!byShard) this.#outbox.set(to, (byShard = new Map()));
    const list = byShard.get(shard);
    if (list) list.push(...messages);
    else byShard.set(shard, [...messages]);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const outbox = [...this.#outbox];
    this.#outbox.clear();
    for (const [to, byShard] of outbox) {
      const outstanding = this.#inFlight.get(to) ?? 0;
      if (outstanding >= MAX_IN_FLIGHT_PER_PEER) {
        for (const list of byShard.values()) this.#dropped += list.length;
        continue;
      }
      this.#inFlight.set(to, outstanding + 1);
      const groups = [...byShard].map(([shard, messages]) => ({ shard, messages }));
      this.#caller
        .call('$data', 1, 'raft', { from: this.#nodeId, groups }, { node: to, timeoutMs: MESSAGE_TIMEOUT_MS })
        .catch(() => undefined)
        .finally(() => this.#inFlight.set(to, (this.#inFlight.get(to) ?? 1) - 1));
    }
  }

  async hasState(node: string, shard: number): Promise<boolean> {
    const answer = (await this.#caller.call('$data', 1, 'replicaProbe', { shard }, { node, timeoutMs: MESSAGE_TIMEOUT_MS })) as { hasState?: unknown };
    return answer?.hasState === true;
  }

  async leaderMembers(nodes: readonly string[], shard: number): Promise<string[] | undefined> {
    const leaders = await Promise.all(
      nodes.map(async (node) => {
        const answer = (await this.#caller.call('$data', 1, 'replicaStatus', {}, { node, timeoutMs: MESSAGE_TIMEOUT_MS }).catch(() => undefined)) as { replicas?: ReplicaReport[] } | undefined;
        return answer?.replicas?.find((r) => r.shard === shard && r.role === 'leader');
      }),
    );
    // Two may claim it across an election: the newer term speaks for the group.
    const leader = leaders.filter((r) => r !== undefined).sort((a, b) => b.term - a.term)[0];
    return leader ? [...leader.voters, ...leader.learners] : undefined;
  }

  /** Copies the group's store (a consistent snapshot) and streams it to the follower, which installs it. */
  async sendCopy(to: string, group: ReplicaGroup): Promise<void> {
    const transfer = randomUUID();
    const path = this.#store.scratchPath(group.shard, `out-${transfer}`);
    try {
      const meta = await group.engine.copyTo(path);
      const file = await open(path, 'r');
      try {
        const { size } = await file.stat();
        const buffer = Buffer.alloc(COPY_CHUNK_BYTES);
        let offset = 0;
        do {
          const { bytesRead } = await file.read(buffer, 0, COPY_CHUNK_BYTES, offset);
          const last = offset + bytesRead >= size;
          await this.#caller.call(
            '$data',
            1,
            'replicaCopy',
            { shard: group.shard, from: this.#nodeId, transfer, offset, data: buffer.subarray(0, bytesRead).toString('base64'), last, meta },
            { node: to, timeoutMs: COPY_CALL_TIMEOUT_MS },
          );
          offset += bytesRead;
        } while (offset < size);
        this.#logger.info({ shard: group.shard, to, bytes: size, index: meta.index }, 'sent a copy of the shard to a follower');
      } finally {
        await file.close();
      }
    } catch (err) {
      throw toShoalError(err);
    } finally {
      await rm(path, { force: true });
    }
  }
}
