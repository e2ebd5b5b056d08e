import type { RaftMessage } from '../../consensus/index.ts';
import type { CopyPiece, CopyReceiver } from '../replica/copy-receiver.ts';
import type { ShardStore } from './engines.ts';
import type { ShardHost } from './shard-host.ts';

/** One replica's state as `$data.replicaStatus` reports it. */
export interface ReplicaReport {
  shard: number;
  node: string;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: string[];
  learners: string[];
  /** Milliseconds since this replica heard from its leader (0 on the leader). */
  sinceLeaderMs: number | null;
  /** Leader only: each other member's match index and silence. */
  peers: Array<{ id: string; voter: boolean; match: number; lagEntries: number; silentMs: number; snapshotting: boolean }>;
}

/** What the `$data` replication actions do on this node: consensus traffic, copies, probes and status. */
export class ReplicaOps {
  readonly #host: ShardHost;
  readonly #store: ShardStore;
  readonly #copies: CopyReceiver;

  constructor(host: ShardHost, store: ShardStore, copies: CopyReceiver) {
    this.#host = host;
    this.#store = store;
    this.#copies = copies;
  }

  async raft(p: { from: string; groups: Array<{ shard: number; messages: unknown[] }> }): Promise<{ ok: true }> {
    // The sender does not wait for delivery: replies travel as messages of their own.
    for (const { shard, messages } of p.groups) {
      const valid = messages.filter((m): m is RaftMessage => typeof m === 'object' && m !== null && (m as { from?: unknown }).from === p.from && (m as { to?: unknown }).to === this.#host.nodeId);
      if (valid.length > 0) void this.#host.deliver(shard, valid).catch(() => undefined);
    }
    return { ok: true };
  }

  /** Whether this node holds replica state for the shard: a founder with an empty store asks before it starts a group alone. */
  async probe(p: { shard: number }): Promise<{ hasState: boolean }> {
    const group = this.#host.group(p.shard);
    if (group) return { hasState: group.status.term > 0 || group.status.lastIndex > 0 };
    if (!(await this.#store.exists(p.shard))) return { hasState: false };
    const engine = await this.#store.open(p.shard);
    try {
      return { hasState: (await engine.loadReplica()) !== undefined };
    } finally {
      await engine.close();
    }
  }

  copy(p: CopyPiece): Promise<{ received: number; installed: boolean }> {
    return this.#copies.receive(p);
  }

  status(): { node: string; replicas: ReplicaReport[] } {
    const tickMs = this.#host.timing.tickMs;
    const replicas = this.#host.openShards().map(({ shard, group }): ReplicaReport => {
      const s = group.status;
      const since = group.sinceLeaderContact();
      return {
        shard,
        node: this.#host.nodeId,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: s.applied,
        lastIndex: s.lastIndex,
        voters: s.config.voters,
        learners: s.config.learners,
        sinceLeaderMs: Number.isFinite(since) ? since : null,
        peers: s.peers.map((peer) => ({
          id: peer.id,
          voter: peer.voter,
          match: peer.match,
          lagEntries: Math.max(0, s.lastIndex - peer.match),
          silentMs: peer.silentTicks * tickMs,
          snapshotting: peer.snapshotting,
        })),
      };
    });
    return { node: this.#host.nodeId, replicas };
  }
}
