/**
 * A cluster config for tests of where processes run and how they reach each other. node-1
 * hosts `relay` only and every other node `where` only, so a relay call must cross the network
 * from node-1 to another node (a service hosted locally would be served in-process).
 */
import { action, defineConfig, defineService, z } from '../../src/core/index.ts';

export const where = defineService({
  name: 'where',
  version: 1,
  actions: {
    /** Which node answered. */
    ami: action({ params: z.object({}), idempotent: true, handler: (ctx) => ({ node: ctx.nodeId }) }),
  },
});

export const relay = defineService({
  name: 'relay',
  version: 1,
  actions: {
    /** Asks `where` on another node which node it is. */
    via: action({
      params: z.object({}),
      idempotent: true,
      handler: async (ctx) => ({ relay: ctx.nodeId, ...((await ctx.call(where, 'ami', {})) as { node: string }) }),
    }),
  },
});

/** The process's own id: the supervisor starts every role with `--id ID`. */
function ownId(): string | undefined {
  const at = process.argv.indexOf('--id');
  return at >= 0 ? process.argv[at + 1] : undefined;
}

export default defineConfig({
  services: ownId() === 'node-1' ? [relay] : ownId()?.startsWith('node-') ? [where] : [relay, where],
});
