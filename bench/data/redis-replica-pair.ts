/**
 * A Redis primary with one replica (`--replicaof`), started by the bench on free loopback ports
 * apart from the system redis-server on 6379. Both append every write to their AOF and fsync it
 * before answering (`--appendonly yes --appendfsync always`, no RDB snapshots), so that with a
 * `WAIT 1 0` after each write (see redis-client.ts) an acknowledged write is durable on the
 * primary and has reached the replica.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ExternalProcess, findExecutable, waitForPort } from '../lib/external.ts';
import { freePort } from '../lib/ports.ts';

export interface RedisReplicaPair {
  /** The primary's port on 127.0.0.1: clients write there. */
  port: number;
  replicaPort: number;
  /** Resolves with the replica's state when it is linked and online; throws otherwise. */
  verify(): Promise<string>;
  /** Stops both servers and removes their directories. Never throws. */
  stop(): Promise<void>;
}

const durable = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];

async function info(port: number): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    // The default sections: replication and persistence among them.
    return await redis.info();
  } finally {
    redis.disconnect();
  }
}

/** Starts both servers and waits until the replica is in sync; throws with both stopped again otherwise. */
export async function startRedisReplicaPair(onProgress: (line: string) => void): Promise<RedisReplicaPair> {
  const bin = findExecutable('redis-server');
  if (!bin) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-redis-replica-'));
  const servers: ExternalProcess[] = [];
  // An interrupted or failing bench exits without awaiting stop(): kill and remove synchronously.
  const onExit = () => {
    for (const server of servers) server.killNow('SIGKILL');
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.on('exit', onExit);
  const stop = async () => {
    for (const server of [...servers].reverse()) await server.stop(5_000);
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const start = async (name: string, port: number, extra: string[]) => {
    const data = join(dir, name);
    mkdirSync(data);
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'no', '--daemonize', 'no', '--dir', data, ...durable, ...extra];
    const server = new ExternalProcess({ name: `redis ${name}`, command: bin, args, cwd: data });
    servers.push(server);
    await waitForPort(server, '127.0.0.1', port);
  };

  try {
    const [port, replicaPort] = [await freePort(), await freePort()];
    // No 5 s wait for more replicas before the first full sync: there is only one.
    await start('primary', port, ['--repl-diskless-sync-delay', '0']);
    await start('replica', replicaPort, ['--replicaof', '127.0.0.1', String(port)]);
    const verify = async () => {
      for (const server of servers) if (server.exited) throw new Error(server.describeExit());
      const [primary, replica] = [await info(port), await info(replicaPort)];
      const online = /slave0:[^\r\n]*state=online/.test(primary);
      const link = /master_link_status:(\w+)/.exec(replica)?.[1] ?? 'unknown';
      if (!online || link !== 'up') throw new Error(`the replica is not in sync: primary ${online ? 'lists it online' : 'does not list it online'}, replica link ${link}`);
      // After a full sync the replica rewrites its AOF from the loaded data; until then it cannot even shut down cleanly.
      if (/aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(replica)) throw new Error('the replica is still writing its initial AOF');
      return 'replica online, link up, AOF written';
    };
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        const state = await verify();
        onProgress(`  redis-replica-wait: primary 127.0.0.1:${port}, replica 127.0.0.1:${replicaPort}, ${state}`);
        break;
      } catch (err) {
        if (performance.now() > deadline || servers.some((s) => s.exited)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return { port, replicaPort, verify, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
