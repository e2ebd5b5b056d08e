import { z } from 'zod';
import { action, defineService, ShoalError } from '../core/index.ts';
import type { FaultPlan } from '../transport/index.ts';

export interface NodeFacts {
  nodeId: string;
  startedAt: number;
  services: () => string[];
  health: () => string;
  inflight: () => number;
  /** The faults injected into this node's transport (`shoal chaos`); absent where none can be. */
  faults?: FaultPlan;
}

const faultParams = z.object({
  /** A node id, host:port, or * for every peer. */
  peer: z.string().min(1).max(300),
  partition: z.enum(['in', 'out', 'both']).optional(),
  reject: z.boolean().optional(),
  latencyMs: z.number().min(0).max(60_000).optional(),
  jitterMs: z.number().min(0).max(60_000).optional(),
  dropRate: z.number().min(0).max(1).optional(),
  forMs: z.number().int().min(1).max(24 * 3_600_000).optional(),
});

/** The built-in `$node` service every node runs: who it is and whether it is well. */
export function nodeService(facts: NodeFacts) {
  return defineService({
    name: '$node',
    version: 1,
    actions: {
      info: action({
        params: z.object({}),
        idempotent: true,
        handler: () => ({
          nodeId: facts.nodeId,
          pid: process.pid,
          uptimeMs: Date.now() - facts.startedAt,
          services: facts.services(),
          node: process.version,
        }),
      }),
      health: action({
        params: z.object({}),
        idempotent: true,
        handler: () => ({
          nodeId: facts.nodeId,
          status: facts.health(),
          inflight: facts.inflight(),
          memory: process.memoryUsage().rss,
          eventLoopUtilization: performance.eventLoopUtilization().utilization,
        }),
      }),
      faults: action({
        params: z.object({}),
        idempotent: true,
        description: 'The faults injected into this node\'s transport now',
        handler: () => ({ nodeId: facts.nodeId, faults: planOf(facts).list() }),
      }),
      setFault: action({
        params: faultParams,
        description: 'Partitions, slows or drops this node\'s traffic with a peer (shoal chaos)',
        handler: (_ctx, { peer, ...fault }) => {
          if (fault.partition === undefined && fault.latencyMs === undefined && fault.dropRate === undefined) {
            throw new ShoalError('VALIDATION', 'a fault needs partition, latencyMs or dropRate', { fields: ['partition', 'latencyMs', 'dropRate'] });
          }
          return { nodeId: facts.nodeId, fault: planOf(facts).set(peer, fault) };
        },
      }),
      clearFaults: action({
        params: z.object({ peer: z.string().min(1).max(300).optional() }),
        idempotent: true,
        description: 'Heals the faults injected into this node\'s transport (all, or one peer\'s)',
        handler: (_ctx, { peer }) => {
          planOf(facts).clear(peer);
          return { nodeId: facts.nodeId, faults: planOf(facts).list() };
        },
      }),
    },
  });
}

function planOf(facts: NodeFacts): FaultPlan {
  if (!facts.faults) throw new ShoalError('NOT_FOUND', `node ${facts.nodeId} takes no injected faults`);
  return facts.faults;
}
