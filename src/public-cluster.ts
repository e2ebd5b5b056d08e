/**
 * `shoal/cluster`: a local cluster started from code (what `shoal up` runs), and `connect()`,
 * which joins a running cluster as a member that calls services and serves none.
 */
export {
  connect,
  startCluster,
  type ClusterConnection,
  type ClusterEvent,
  type ClusterHandle,
  type ClusterState,
  type ClusterStatus,
  type ConnectOptions,
  type ProcessRole,
  type ProcessStatus,
  type StartClusterOptions,
} from './cluster/index.ts';
