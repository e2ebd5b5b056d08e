/**
 * Worker: GET and SET of the same 1 KiB JSON strings on Redis at 127.0.0.1:6379 through
 * ioredis, one connection with enableAutoPipelining (commands issued in one tick share a write).
 * Keys carry a per-run prefix, deleted again on shutdown. Args: KEY_PREFIX.
 */
import { Redis } from 'ioredis';
import { runClosedLoop, type LoadSpec } from '../lib/load.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { docId, makeDoc, randomIndex, type KvCase } from './workload.ts';

const REDIS_HOST = '127.0.0.1';
const REDIS_PORT = 6379;

try {
  const [prefix] = process.argv.slice(2);
  const redis = new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
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
      return redis.set(key(i), JSON.stringify(makeDoc(docId(i), ++rev)));
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
  reportReady({ version });
} catch (err) {
  failStartup(err);
}
