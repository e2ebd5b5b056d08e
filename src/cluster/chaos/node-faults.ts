/**
 * Network faults on the nodes of a running cluster, set through each node's `$node` service:
 * what `shoal chaos partition|slow|heal|list` do, and what `shoal chaos test` injects.
 */
import { ShoalError } from '../../core/index.ts';
import { waitForEndpoint } from '../../runtime/index.ts';
import type { ClusterConnection } from '../connect.ts';

/** A fault as a node's `$node.faults` lists it. */
export type ListedFault = Record<string, unknown>;

export interface PartitionOptions {
  /** Cut only the link to this member (default: every node and gateway but the caller). */
  from?: string;
  /** Heal by itself after this long (default: until healed). */
  forMs?: number;
}

export interface SlowOptions {
  latencyMs: number;
  jitterMs?: number;
  /** Slow only the link to this member (default: every peer). */
  from?: string;
  forMs?: number;
}

const NODE_WAIT_MS = 10_000;
const NODE_JOIN_WAIT_MS = 2_000;

/**
 * Sets and clears faults through a member that joined the cluster for the purpose. That member
 * is never cut itself, so it can always reach a node again to heal it.
 */
export class NodeFaults {
  readonly #connection: ClusterConnection;

  constructor(connection: ClusterConnection) {
    this.#connection = connection;
  }

  /** The nodes serving `$node` now, sorted. */
  async nodes(): Promise<string[]> {
    await this.#someNode();
    return [...new Set(this.#connection.caller.registry.endpoints('$node', 1).map((e) => e.id))].sort();
  }

  /**
   * Cuts `node` off from its peers, both ways, with refusals rather than silence: a caller that
   * cannot be cut itself (a gateway, a client) sees UNAVAILABLE at once and fails over. Answers
   * the peers cut off.
   */
  async partition(node: string, options: PartitionOptions = {}): Promise<string[]> {
    const fault = { partition: 'both', reject: true, ...(options.forMs ? { forMs: options.forMs } : {}) };
    await this.#someNode();
    // Each peer by name rather than '*': the member setting the faults must still reach the node to heal it.
    const peers = options.from !== undefined ? [options.from] : this.#peersOf(node);
    for (const peer of peers) {
      await this.#onNode(node, 'setFault', { peer, ...fault });
      // Both ends of one link where the other end takes faults (a node; a gateway or client is refused instead).
      if (this.#servesNode(peer)) await this.#onNode(peer, 'setFault', { peer: node, ...fault });
    }
    return peers;
  }

  /** Adds latency to what `node` sends (and to the answers it waits for). */
  async slow(node: string, options: SlowOptions): Promise<void> {
    await this.#onNode(node, 'setFault', {
      peer: options.from ?? '*',
      latencyMs: options.latencyMs,
      ...(options.jitterMs ? { jitterMs: options.jitterMs } : {}),
      ...(options.forMs ? { forMs: options.forMs } : {}),
    });
  }

  /** Clears every fault of `node`, or of every node; answers the nodes healed. */
  async heal(node?: string): Promise<string[]> {
    const nodes = node !== undefined ? [node] : await this.nodes();
    for (const id of nodes) await this.#onNode(id, 'clearFaults', {});
    return nodes;
  }

  /** The faults set on `node`, or on every node. */
  async list(node?: string): Promise<Array<{ node: string; faults: ListedFault[] }>> {
    const nodes = node !== undefined ? [node] : await this.nodes();
    const out: Array<{ node: string; faults: ListedFault[] }> = [];
    for (const id of nodes) {
      const answer = (await this.#onNode(id, 'faults', {})) as { faults: ListedFault[] };
      out.push({ node: id, faults: answer.faults });
    }
    return out;
  }

  /** Calls a `$node` action on one node. */
  async #onNode(node: string, action: string, params: Record<string, unknown>): Promise<unknown> {
    await this.#someNode();
    // The member list is there: a node missing from it gets a moment to join, not the whole wait.
    if (!(await waitForEndpoint(this.#connection.caller.registry, '$node', 1, { node, timeoutMs: NODE_JOIN_WAIT_MS }))) {
      throw new ShoalError('NOT_FOUND', `no node "${node}" is in the cluster (see shoal status)`, { node });
    }
    return this.#connection.caller.call('$node', 1, action, params, { node });
  }

  /** Resolves once the member list has arrived (some node serves `$node`). */
  async #someNode(): Promise<void> {
    if (!(await waitForEndpoint(this.#connection.caller.registry, '$node', 1, { timeoutMs: NODE_WAIT_MS }))) {
      throw new ShoalError('UNAVAILABLE', 'no node is in the cluster (see shoal status)');
    }
  }

  #servesNode(id: string): boolean {
    return this.#connection.caller.registry.endpoints('$node', 1).some((e) => e.id === id);
  }

  /** The nodes, gateways and clients other than `node` and than the member setting the faults. */
  #peersOf(node: string): string[] {
    return this.#connection.caller.registry
      .liveMembers()
      .filter((m) => m.id !== node && m.id !== this.#connection.nodeId && (m.role === 'node' || m.role === 'gateway'))
      .map((m) => m.id)
      .sort();
  }
}
