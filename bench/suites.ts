/** Every bench suite by name; each module exports `run()`. */
export const suites: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  rpc: () => import('./rpc/index.ts'),
  gateway: () => import('./gateway/index.ts'),
  data: () => import('./data/index.ts'),
};
