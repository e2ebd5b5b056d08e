/** Coordinator keys of the data store; every process that reads or writes them names them here. */
export const MAP_KEY = 'data/map';
/** Rebalancer leadership: holds the leader's node id and fencing token, bound to its lease. */
export const REBALANCER_KEY = 'data/rebalancer';
/** Written by `shoal rebalance` to ask the leader for a pass now. */
export const REBALANCE_REQUEST_KEY = 'data/rebalance-request';
/** What the rebalancer is doing, for `shoal status` and the CLI progress bar. */
export const REBALANCE_PROGRESS_KEY = 'data/rebalance-progress';
/** One record per slot move in flight: `data/moves/<placement>/<first slot>`. */
export const MOVES_PREFIX = 'data/moves/';
/** Data nodes announce themselves (groups, draining) here, bound to a lease. */
export const DATA_NODES_PREFIX = 'data/nodes/';

export function moveKey(placement: string, firstSlot: number): string {
  return `${MOVES_PREFIX}${encodeURIComponent(placement)}/${firstSlot}`;
}
/** `shoal data leader` asks for a shard's leadership here: `data/leader-requests/<shard>` → { node }. */
export const LEADER_REQUESTS_PREFIX = 'data/leader-requests/';
