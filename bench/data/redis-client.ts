/**
 * Worker: GET and SET of the same 1 KiB JSON strings on Redis at 127.0.0.1 through ioredis,
 * one connection with enableAutoPipelining (commands issued in one tick share a write). Keys
 * carry a per-run prefix, deleted again on shutdown. Args: KEY_PREFIX [PORT (6379)] [REPLICAS (0)].
 *
 * With REPLICAS > 0 each put is SET, then `WAIT REPLICAS 0`: the put is acknowledged only once
 * that many replicas have the write (WAIT covers every earlier write of the connection, so the
 * WAITs of puts pipelined together are answered by one replica acknowledgement).
 */
import { Redis } from 'ioredis';
import { runClosedLoop, type LoadSpec } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { docId, makeDoc, randomIndex, type KvCase } from './workload.ts';

const REDIS_HOST = '127.0.0.1';

try {
  const [prefix, portArg, replicasArg] = process.argv.slice(2);
  const port = Number(portArg ?? 6379);
  const replicas = Number(replicasArg ?? 0);
  const redis = new Redis({
    host: REDIS_HOST,
    port,
    lazyConnect: true,
    enableAutoPipelining: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 1,
    // Unreachable at start is reported, not retried forever.
    retryStrategy: (times) => (times > 3 ? null : 200),
  });
  redis.on('error', () => undefined);
  await redis.connect();
  await redis.ping();
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const appendfsync = await (redis.config('GET', 'appendfsync') as Promise<string[]>).then((pair) => pair[1] ?? 'unknown', () => 'unknown');
  /** Resolves once `replicas` replicas have every write made so far on this connection. */
  const replicated = async () => {
    if (replicas === 0) return;
    // Timeout 0 waits for as long as it takes; the parent bounds the case instead.
    const acknowledged = await redis.wait(replicas, 0);
    if (acknowledged < replicas) throw new Error(`WAIT ${replicas} 0 answered ${acknowledged} replica(s)`);
  };
  const key = (i: number) => `${prefix}${docId(i)}`;
  let keys = 0;
  let rev = 0;

  const ops: Record<KvCase, () => Promise<unknown>> = {
    async get() {
      const value = await redis.get(key(randomIndex(keys)));
      if (value === null) throw new Error('a preloaded key is missing');
      return JSON.parse(value) as unknown;
    },
    put() {
      const i = randomIndex(keys);
      const set = redis.set(key(i), JSON.stringify(makeDoc(docId(i), ++rev)));
      return replicas === 0 ? set : set.then(replicated);
    },
  };

  async function deleteKeys(): Promise<void> {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (found.length > 0) await redis.unlink(...found);
      cursor = next;
    } while (cursor !== '0');
  }

  serveParent({
    tasks: {
      async preload(params) {
        const { count } = params as { count: number };
        for (let from = 0; from < count; from += 1000) {
          const batch = redis.pipeline();
          for (let i = from; i < Math.min(count, from + 1000); i++) batch.set(key(i), JSON.stringify(makeDoc(docId(i), 0)));
          await batch.exec();
        }
        await replicated();
        keys = count;
        if ((await redis.get(key(0))) === null) throw new Error('preloaded key is missing');
        return null;
      },
      run(params) {
        const { kind, spec } = params as { kind: KvCase; spec: LoadSpec };
        return runClosedLoop(ops[kind], spec);
      },
    },
    async shutdown() {
      await deleteKeys().catch(() => undefined);
      redis.disconnect();
    },
  });
  reportReady({ version, port, replicas, appendfsync });
} catch (err) {
  failStartup(err);
}
