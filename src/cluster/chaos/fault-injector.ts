/**
 * What a chaos run does to a cluster, behind an interface so a test can drive the run against
 * a cluster of its own making; `ClusterFaultInjector` is the real one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultPlan } from '../../transport/index.ts';
import type { ProcessStatus } from '../types.ts';
import type { PlannedFault } from './fault-schedule.ts';
import { killNode } from './kill-node.ts';
import type { NodeFaults } from './node-faults.ts';

export interface FaultInjector {
  /** The nodes faults may hit. */
  nodes(): Promise<string[]>;
  /** Injects one fault and answers a word on what was done ("pid 4242"); rejects when it could not. */
  inject(fault: PlannedFault): Promise<string>;
  /** Clears every fault still set; answers what could not be healed (one line each). */
  healAll(): Promise<string[]>;
  /** Resolves once every node runs and is healthy again, or after `timeoutMs`; answers the nodes still not back. */
  settled(timeoutMs: number): Promise<string[]>;
}

export interface ClusterFaultInjectorOptions {
  /** The supervisor's view of the processes: where kill finds a pid, and how settling sees restarts. */
  processes(): Promise<readonly ProcessStatus[]>;
  /** Faults on the nodes, set through a member that is never cut itself. */
  nodeFaults: NodeFaults;
  /**
   * The faults of the workload's own member. A node adds latency only to what it sends, so a
   * slow node is slow to the workload only once the workload's link to it is slowed as well;
   * a partition is cut from both ends.
   */
  clientFaults: FaultPlan;
}

const SETTLE_POLL_MS = 250;

/** Faults on a running cluster: SIGKILL through the supervisor's pids, partitions and latency through `$node`. */
export class ClusterFaultInjector implements FaultInjector {
  readonly #options: ClusterFaultInjectorOptions;

  constructor(options: ClusterFaultInjectorOptions) {
    this.#options = options;
  }

  async nodes(): Promise<string[]> {
    return (await this.#options.processes())
      .filter((p) => p.role === 'node')
      .map((p) => p.id)
      .sort();
  }

  async inject(fault: PlannedFault): Promise<string> {
    const { nodeFaults, clientFaults } = this.#options;
    switch (fault.kind) {
      case 'kill':
        return `pid ${killNode(await this.#options.processes(), fault.node)}`;
      case 'partition': {
        const peers = await nodeFaults.partition(fault.node, { forMs: fault.forMs });
        // The node refuses the workload too when it knows it as a member; cut from this end as
        // well, so the workload is cut even when its membership record is being renewed.
        clientFaults.set(fault.node, { partition: 'out', ...(fault.forMs ? { forMs: fault.forMs } : {}) });
        return `from ${peers.join(', ') || 'nobody'}`;
      }
      case 'slow': {
        const latencyMs = fault.latencyMs ?? 100;
        const slow = { latencyMs, ...(fault.jitterMs ? { jitterMs: fault.jitterMs } : {}), ...(fault.forMs ? { forMs: fault.forMs } : {}) };
        await nodeFaults.slow(fault.node, slow);
        clientFaults.set(fault.node, slow);
        return `latency ${latencyMs} ms${fault.jitterMs ? ` +${fault.jitterMs} ms` : ''}`;
      }
    }
  }

  async healAll(): Promise<string[]> {
    this.#options.clientFaults.clear();
    const problems: string[] = [];
    for (const node of await this.nodes()) {
      try {
        await this.#options.nodeFaults.heal(node);
      } catch (err) {
        // A node restarting after a kill comes back with no faults: nothing to heal there.
        problems.push(`${node}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return problems;
  }

  async settled(timeoutMs: number): Promise<string[]> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      let down: string[];
      try {
        down = (await this.#options.processes()).filter((p) => p.role === 'node' && (p.pid === null || p.health !== 'healthy')).map((p) => p.id);
      } catch (err) {
        down = [`(the supervisor does not answer: ${err instanceof Error ? err.message : String(err)})`];
      }
      if (down.length === 0 || performance.now() >= until) return down;
      await sleep(SETTLE_POLL_MS);
    }
  }
}
