/**
 * Worker for the failover measurement (see failover.ts): writers that keep putting documents
 * whose keys all live on one shard, a SIGKILL to that shard's leader, and the time from the kill
 * to the first put that started after it and was acknowledged. The kill is sent from here so
 * that the kill and the acknowledgement are timed on one clock. Args: CONTROL_URL; the cluster
 * secret comes in SHOAL_SECRET.
 */
import { connect } from '../../src/cluster/index.ts';
import { createDataClient } from '../../src/data/index.ts';
import { failStartup, reportReady, serveParent } from '../lib/worker-protocol.ts';
import { docs } from './cluster-config.ts';
import { makeDoc } from './workload.ts';

/** Acknowledged puts before the kill: the writers reach the shard and the shard answers. */
const WARM_WRITES = 50;
/** Short calls: a put stuck on a dead connection must not hide the moment the shard is back. */
const CALL_TIMEOUT_MS = 5_000;

export interface ProbeParams {
  /** Keys of the one shard under test. */
  keys: string[];
  /** The leader process to kill. */
  pid: number;
  /** Writers running at once; each waits for its put before the next, so more writers see the recovery sooner. */
  concurrency: number;
  /** Give up this long after the kill. */
  timeoutMs: number;
}

export interface ProbeResult {
  /** Kill to the first acknowledged put started after it; null when none came within timeoutMs. */
  recoveryMs: number | null;
  /** Puts that failed after the kill (refused, timed out or left uncertain). */
  failedAfterKill: number;
  firstError?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const [controlUrl] = process.argv.slice(2);
  const connection = await connect({ controlUrl, secret: process.env.SHOAL_SECRET ?? '', clientId: 'bench-failover-client', callTimeoutMs: CALL_TIMEOUT_MS });
  const client = await createDataClient(connection, { collections: [docs], timeoutMs: CALL_TIMEOUT_MS });
  const kv = client.collection(docs);
  let rev = 0;

  async function probe({ keys, pid, concurrency, timeoutMs }: ProbeParams): Promise<ProbeResult> {
    let next = 0;
    let acknowledged = 0;
    // Unset until the kill; the writers read it to tell the puts before from the ones after.
    let killedAt: number | undefined = undefined;
    let recoveredAt: number | undefined;
    let failedAfterKill = 0;
    let firstError: string | undefined;
    let abandoned = false;
    const done = () => abandoned || recoveredAt !== undefined || (killedAt !== undefined && performance.now() - killedAt > timeoutMs);
    const writer = async () => {
      while (!done()) {
        const started = performance.now();
        try {
          await kv.put(makeDoc(keys[next++ % keys.length], ++rev));
          if (killedAt === undefined) acknowledged++;
          else if (started >= killedAt) recoveredAt ??= performance.now();
        } catch (err) {
          if (killedAt !== undefined) {
            failedAfterKill++;
            firstError ??= err instanceof Error ? err.message : String(err);
          }
          // A refusal can come back at once; do not spin on it.
          await sleep(5);
        }
      }
    };
    const writers = Array.from({ length: concurrency }, writer);
    const warmUntil = performance.now() + 30_000;
    while (acknowledged < WARM_WRITES) {
      if (performance.now() > warmUntil) {
        abandoned = true;
        await Promise.all(writers);
        throw new Error(`the shard did not take ${WARM_WRITES} writes within 30 s before the kill (${acknowledged} acknowledged)`);
      }
      await sleep(5);
    }
    killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await Promise.all(writers);
    const result: ProbeResult = { recoveryMs: recoveredAt === undefined ? null : recoveredAt - killedAt, failedAfterKill };
    if (firstError !== undefined) result.firstError = firstError;
    return result;
  }

  serveParent({
    tasks: { probe: (params) => probe(params as ProbeParams) },
    shutdown: async () => {
      client.close();
      await connection.close();
    },
  });
  reportReady();
} catch (err) {
  failStartup(err);
}
