/**
 * A PostgreSQL primary with one synchronous streaming standby, created by the bench for the
 * bench: two clusters of its own (initdb, pg_basebackup -R) on free loopback ports, data
 * directories under one temporary directory. The system cluster on 5432 that the plain
 * `postgresql` rows and other tests use is never touched.
 *
 * A commit on the primary returns once the standby has flushed its WAL (synchronous_commit = on
 * with the standby named in synchronous_standby_names): each acknowledged write is durable on two
 * machines' worth of disks, the peer of a Shoal shard acknowledged by a majority of 3.
 */
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ExternalProcess, runCommand, systemUser, waitForPort, type SystemUser } from '../lib/external.ts';
import { freePort } from '../lib/ports.ts';

/** What the standby calls itself in primary_conninfo, and the primary waits for by that name. */
export const STANDBY_NAME = 'bench_standby';

export interface PgSyncStandby {
  /** The primary's port on 127.0.0.1; clients connect as `postgres` to database `postgres`. */
  port: number;
  standbyPort: number;
  version: string;
  /** Resolves with the standby's state when it streams and is synchronous; throws otherwise. */
  verify(): Promise<string>;
  /** Stops both servers and removes their directories. Never throws. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries of Debian's layout (/usr/lib/postgresql/<major>/bin). */
function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? join(root, majors[0], 'bin') : undefined;
}

/** Settings both servers share; autovacuum is off and the rest at initdb's defaults, as on the system cluster the plain rows use. */
function primaryConf(port: number, socketDir: string): string {
  return [
    '',
    '# written by the shoal data bench',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    'autovacuum = off',
    'fsync = on',
    'wal_level = replica',
    'max_wal_senders = 4',
    'synchronous_commit = on',
    `synchronous_standby_names = '${STANDBY_NAME}'`,
    '',
  ].join('\n');
}

const hba = ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust', ''].join('\n');

/** The state of the standby as the primary sees it: `sync` is the one wanted. */
async function replicationState(port: number): Promise<string> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ state: string; sync_state: string }>('SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1', [STANDBY_NAME]);
    return rows.length === 0 ? 'not connected' : `${rows[0].state}/${rows[0].sync_state}`;
  } finally {
    await client.end();
  }
}

/**
 * Creates, starts and checks the pair; throws (with everything started stopped and removed
 * again) when the tools are missing or the standby does not become synchronous.
 */
export async function startPgSyncStandby(onProgress: (line: string) => void): Promise<PgSyncStandby> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  // PostgreSQL refuses to run as root: as root, its servers run as the postgres account.
  let user: SystemUser | undefined;
  if (process.getuid?.() === 0) {
    user = systemUser('postgres');
    if (!user) throw new Error('running as root and there is no postgres account to run the servers as');
  }
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-pg-sync-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const primaryDir = join(dir, 'primary');
  const standbyDir = join(dir, 'standby');
  const servers: Array<{ server: ExternalProcess; dataDir: string }> = [];
  // An interrupted or failing bench exits without awaiting stop(): kill and remove synchronously.
  const onExit = () => {
    for (const { server } of servers) server.killNow('SIGKILL');
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.on('exit', onExit);

  const run = async (name: string, args: string[]) => {
    const { code, stdout, stderr } = await runCommand(name, join(bin, name), args, { cwd: dir, user });
    if (code !== 0) throw new Error(`${name} failed (code ${code}): ${`${stderr}\n${stdout}`.trim().split('\n').slice(-3).join(' | ')}`);
  };
  const startServer = async (name: string, dataDir: string, port: number) => {
    const server = new ExternalProcess({ name, command: join(bin, 'postgres'), args: ['-D', dataDir], cwd: dir, user });
    servers.push({ server, dataDir });
    await waitForPort(server, '127.0.0.1', port, 30_000);
    // The port opens before the server accepts sessions ("the database system is starting up").
    const deadline = performance.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3_000 });
      try {
        await client.connect();
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (server.exited) throw new Error(server.describeExit());
        if (performance.now() > deadline) throw new Error(`${name} does not accept sessions: ${err instanceof Error ? err.message : String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const stop = async () => {
    // Fast shutdown (rolls back open transactions, then a checkpoint), standby first; a group kill if that does not work.
    for (const { server, dataDir } of [...servers].reverse()) {
      if (server.exited) continue;
      await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '20']).catch(() => undefined);
      await server.stop(5_000);
    }
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    const [port, standbyPort] = [await freePort(), await freePort()];
    // --no-sync: the bench throws these clusters away, and it only skips syncing initdb's own files.
    await run('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    appendFileSync(join(primaryDir, 'postgresql.conf'), primaryConf(port, dir));
    writeFileSync(join(primaryDir, 'pg_hba.conf'), hba);
    await startServer('postgres primary', primaryDir, port);
    await run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-D', standbyDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    // The copied postgresql.conf names the primary's port; later lines win. -R wrote
    // standby.signal and a primary_conninfo; this one adds the name the primary waits for.
    appendFileSync(join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\nhot_standby = on\n`);
    appendFileSync(join(standbyDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${port} user=postgres application_name=${STANDBY_NAME}'\n`);
    await startServer('postgres standby', standbyDir, standbyPort);
    const { stdout } = await runCommand('postgres --version', join(bin, 'postgres'), ['--version'], { cwd: dir, user });
    const version = /(\d+(\.\d+)*)/.exec(stdout)?.[1] ?? 'unknown';

    const verify = async () => {
      for (const { server } of servers) if (server.exited) throw new Error(server.describeExit());
      const state = await replicationState(port);
      if (state !== 'streaming/sync') throw new Error(`the standby is not synchronous: pg_stat_replication says ${state} for ${STANDBY_NAME}, streaming/sync wanted`);
      return state;
    };
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        const state = await verify();
        onProgress(`  postgresql-sync-standby: primary 127.0.0.1:${port}, standby 127.0.0.1:${standbyPort}, pg_stat_replication ${state}`);
        break;
      } catch (err) {
        if (performance.now() > deadline || servers.some(({ server }) => server.exited)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return { port, standbyPort, version, verify, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
