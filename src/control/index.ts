/**
 * Coordinator: the cluster's small, strongly consistent memory — key-value with versions and
 * compare-and-set, leases with fencing tokens, and watches. Membership and the service
 * registry are built on these three (see membership.ts), so any driver that offers them —
 * the embedded one, or etcd — runs a whole cluster.
 *
 * Rules every driver keeps (checked by test/conformance/coordinator.test.ts):
 * - `version` of a key starts at 1 on create and grows by 1 on each put; a delete forgets it.
 * - `revision` is cluster-wide and grows by 1 on every change; watches deliver changes in
 *   revision order, each exactly once per watch, even across a reconnect.
 * - A key put with a lease is deleted when the lease expires or is revoked.
 * - A lease's fencing token is strictly greater than every token granted before it.
 * - When the coordinator is unreachable, calls fail with UNAVAILABLE; watches keep retrying
 *   and resume where they stopped (or deliver `reset` when history was lost).
 */
export interface KvEntry {
  key: string;
  value: unknown;
  /** Per-key version: 1 on create, +1 on each put. */
  version: number;
  /** Cluster revision of the last change to this key. */
  modRevision: number;
  /** Lease the key is bound to, if any. */
  lease?: string;
}

export interface PutOptions {
  /** Compare-and-set: the put succeeds only if the key's current version equals this (0 = absent). Else CONFLICT. */
  expectVersion?: number;
  /** Binds the key to a lease: it disappears when the lease ends. */
  lease?: string;
}

export interface DeleteOptions {
  expectVersion?: number;
}

export interface Lease {
  id: string;
  ttlMs: number;
  /** Strictly increasing across all leases ever granted; pass it along with writes it guards. */
  fencingToken: number;
}

export type WatchEvent =
  | { type: 'put'; entry: KvEntry; revision: number }
  | { type: 'delete'; key: string; revision: number }
  /** History since the watch's last revision is gone (e.g. restart): re-read with list(). */
  | { type: 'reset'; revision: number };

export interface Watch {
  close(): void;
}

export type CoordinatorState = 'connected' | 'disconnected';

export interface Coordinator {
  get(key: string): Promise<KvEntry | undefined>;
  /** Creates or replaces; with expectVersion, a compare-and-set that fails with CONFLICT. */
  put(key: string, value: unknown, options?: PutOptions): Promise<KvEntry>;
  /** Resolves false if the key was absent; with expectVersion, CONFLICT on mismatch. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Every key starting with prefix, in key order, with the revision the read was made at. */
  list(prefix: string): Promise<{ entries: KvEntry[]; revision: number }>;
  /** Delivers changes under prefix made after `afterRevision` (default: now). */
  watch(prefix: string, listener: (event: WatchEvent) => void, options?: { afterRevision?: number }): Watch;
  grantLease(ttlMs: number): Promise<Lease>;
  /** Extends a lease by its ttl; NOT_FOUND once it has expired. */
  keepAlive(leaseId: string): Promise<Lease>;
  revokeLease(leaseId: string): Promise<void>;
  state(): CoordinatorState;
  onStateChange(listener: (state: CoordinatorState) => void): void;
  close(): Promise<void>;
}

export { Membership } from './membership.ts';
export type { ActionDescriptor, JoinOptions, MemberRecord, MembershipOptions, ServiceDescriptor } from './membership.ts';
