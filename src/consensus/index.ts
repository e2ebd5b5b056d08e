/**
 * Shoal's consensus core: Raft as a deterministic state machine that a host drives (data
 * shards now, the control plane later). See types.ts for the contract and the host's rule.
 */
export { RaftNode } from './raft-node.ts';
export type * from './types.ts';
