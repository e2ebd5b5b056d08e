/**
 * The data suite's peers, each a client worker of its own: Redis and PostgreSQL as they run on
 * this machine (the system servers on 6379 and 5432), and the replicated pairs the bench starts
 * itself: Redis with one replica and `WAIT 1 0` after each write, PostgreSQL with one
 * synchronous streaming standby. A peer that cannot be reached or set up is left out with a
 * line saying why; the others still run.
 */
import { fileURLToPath } from 'node:url';
import { workerFlags, type BenchSettings } from '../lib/settings.ts';
import { BenchWorker } from '../lib/worker.ts';
import { STANDBY_NAME, startPgSyncStandby } from './pg-sync-standby.ts';
import { startRedisReplicaPair } from './redis-replica-pair.ts';

export interface Peer {
  /** The `system` of its result rows. */
  system: string;
  label: string;
  worker: BenchWorker;
  /** Throws when the peer is not what its rows claim to measure (a standby not synchronous, a replica not linked). */
  verify?: () => Promise<string>;
  /** Stops the servers the bench started for it, after its worker; never throws. */
  stopServers?: () => Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Starts a peer's client worker; undefined (and a clear line) when its server cannot be reached. */
async function startWorker(
  system: string,
  label: string,
  file: string,
  args: string[],
  settings: BenchSettings,
  describe: (details: Record<string, unknown>) => string,
): Promise<Omit<Peer, 'verify' | 'stopServers'> | undefined> {
  try {
    const { worker, details } = await BenchWorker.start({ name: `${system} client`, file: here(file), args, nodeFlags: workerFlags(settings) });
    console.log(`${label}: ${describe(details)}`);
    return { system, label, worker };
  } catch (err) {
    console.log(`SKIPPED ${label}: not reachable or not usable (${firstLine(err)}); its rows and ratios are left out`);
    return undefined;
  }
}

/** Starts the servers of a replicated peer, then its worker; undefined (servers stopped again) when either fails. */
async function startPair<S extends { verify(): Promise<string>; stop(): Promise<void> }>(
  label: string,
  startServers: () => Promise<S>,
  startClient: (servers: S) => Promise<Omit<Peer, 'verify' | 'stopServers'> | undefined>,
): Promise<Peer | undefined> {
  let servers: S;
  try {
    servers = await startServers();
  } catch (err) {
    console.log(`SKIPPED ${label}: could not be set up (${firstLine(err)}); its rows and ratios are left out`);
    return undefined;
  }
  const peer = await startClient(servers);
  if (!peer) {
    await servers.stop();
    return undefined;
  }
  return { ...peer, verify: () => servers.verify(), stopServers: () => servers.stop() };
}

/** Every peer that could be started, in the order they take their turns. */
export async function startPeers(settings: BenchSettings, pgPool: number): Promise<Peer[]> {
  const log = (line: string) => console.log(line);
  const prefix = `shoal-bench-${process.pid}:`;
  const peers: Array<Peer | undefined> = [];
  peers.push(
    await startWorker('redis', 'Redis', './redis-client.ts', [prefix], settings, (d) =>
      `redis-server ${String(d.version)} at 127.0.0.1:6379, ioredis, one connection with enableAutoPipelining: true, GET / SET of the same JSON string`,
    ),
  );
  peers.push(
    await startWorker('postgresql', 'PostgreSQL', './pg-client.ts', [String(pgPool)], settings, (d) =>
      `PostgreSQL ${String(d.version)} at 127.0.0.1:5432, pg Pool of ${String(d.poolSize)} connections, bench_docs(id text primary key, doc jsonb), ` +
      `SELECT doc … WHERE id = $1 / INSERT … ON CONFLICT (id) DO UPDATE, synchronous_commit = ${String(d.synchronousCommit)} (server default)`,
    ),
  );
  peers.push(
    await startPair('Redis with a replica', () => startRedisReplicaPair(log), (pair) =>
      startWorker('redis-replica-wait', 'Redis with a replica', './redis-client.ts', [prefix, String(pair.port), '1'], settings, (d) =>
        `redis-server ${String(d.version)}, primary 127.0.0.1:${pair.port} and a replica (--replicaof) at 127.0.0.1:${pair.replicaPort}, both --appendonly yes ` +
        `--appendfsync ${String(d.appendfsync)} --save '', started by the bench; the same client, each put SET then WAIT 1 0 (acknowledged once the replica has it)`,
      ),
    ),
  );
  peers.push(
    await startPair('PostgreSQL with a synchronous standby', () => startPgSyncStandby(log), (pair) =>
      startWorker('postgresql-sync-standby', 'PostgreSQL with a synchronous standby', './pg-client.ts', [String(pgPool), String(pair.port), 'postgres'], settings, (d) =>
        `PostgreSQL ${String(d.version)}, primary 127.0.0.1:${pair.port} and a streaming standby (pg_basebackup -R) at 127.0.0.1:${pair.standbyPort}, both created by the bench; ` +
        `synchronous_commit = ${String(d.synchronousCommit)}, synchronous_standby_names = '${String(d.synchronousStandbyNames)}' (the standby's application_name is ${STANDBY_NAME}): ` +
        'a commit returns once the standby has flushed it; the same pool, tables and statements',
      ),
    ),
  );
  return peers.filter((p): p is Peer => p !== undefined);
}

/** Stops the peers' workers (they drop their tables and keys), then the servers the bench started. */
export async function stopPeers(peers: readonly Peer[]): Promise<void> {
  for (const peer of [...peers].reverse()) await peer.worker.stop().catch(() => undefined);
  for (const peer of [...peers].reverse()) await peer.stopServers?.();
}
