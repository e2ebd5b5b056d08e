import { action, defineService, z } from '../../src/core/index.ts';
import { echo, serviceName } from './workload.ts';

export const benchService = defineService({
  name: serviceName,
  version: 1,
  actions: {
    echo: action({
      params: z.object({ a: z.number(), b: z.string() }),
      handler: (_ctx, params) => echo(params),
    }),
  },
});
