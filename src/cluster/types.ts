import type { RebalanceProgress } from '../data/index.ts';

export type ProcessRole = 'control' | 'node' | 'gateway';

/** One process as `shoal status` reports it. */
export interface ProcessStatus {
  id: string;
  role: ProcessRole;
  /** A node's zone (`shoal up --zones`); absent when the cluster has none. */
  zone?: string;
  /** null while the process is not running (crashed and waiting for its restart, or stopped). */
  pid: number | null;
  /** host:port others reach it at: the transport for nodes, the HTTP listener otherwise. */
  address: string;
  /** Base URL of its /healthz and /metrics. */
  url: string;
  /** The process's own /healthz status, or "down" when it is not running or does not answer. */
  health: string;
  /** Services a node hosts, as name@version. */
  services: string[];
  restarts: number;
  /** When the current incarnation started (ISO 8601); null while it is not running. */
  startedAt: string | null;
}

export type ClusterState = 'starting' | 'running' | 'stopping' | 'stopped';

export interface ClusterStatus {
  state: ClusterState;
  supervisorPid: number;
  gateway: string;
  dashboard: string;
  processes: ProcessStatus[];
  /** The data rebalancer's progress (moves done of total, the slot moving now); null when unknown. */
  rebalance: RebalanceProgress | null;
}

/** Progress a supervisor reports while it starts, supervises and stops processes. */
export type ClusterEvent =
  | { type: 'starting'; id: string; role: ProcessRole; address: string }
  | { type: 'ready'; id: string; pid: number; restarts: number }
  | { type: 'exited'; id: string; pid: number; code: number | null; signal: string | null; expected: boolean }
  | { type: 'restarting'; id: string; delayMs: number }
  | { type: 'stopping'; id: string }
  | { type: 'stopped'; id: string }
  | { type: 'killed'; id: string; pid: number }
  | { type: 'error'; id: string; message: string };
