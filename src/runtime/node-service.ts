import { z } from 'zod';
import { action, defineService } from '../core/index.ts';

export interface NodeFacts {
  nodeId: string;
  startedAt: number;
  services: () => string[];
  health: () => string;
  inflight: () => number;
}

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
    },
  });
}
