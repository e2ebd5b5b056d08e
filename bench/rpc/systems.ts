import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCoordinatorServer } from '../../src/control/embedded/index.ts';
import type { LoadResult, LoadSpec } from '../lib/load.ts';
import { freePort } from '../lib/ports.ts';
import { workerFlags, type BenchSettings } from '../lib/settings.ts';
import { BenchWorker } from '../lib/worker.ts';

/** One case's result plus the CPU each process spent per call in the measured window. */
export interface RpcCaseResult extends LoadResult {
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: number;
}

/** A running server process plus a client process that measures calls to it. */
export interface RpcPair {
  run(spec: LoadSpec): Promise<RpcCaseResult>;
  stop(): Promise<void>;
}

/**
 * Runs one case on the client and samples both processes' CPU time when the warm-up ends and
 * when the answer arrives. CPU per call stays meaningful when the machine is shared, where
 * calls/s alone would blame either system for the other work.
 */
async function measureCase(client: BenchWorker, server: BenchWorker, spec: LoadSpec): Promise<RpcCaseResult> {
  const sample = async () => ({ client: await client.cpuMicros(), server: await server.cpuMicros() });
  const afterWarmup = new Promise<{ client: number; server: number }>((resolve, reject) => {
    setTimeout(() => sample().then(resolve, reject), spec.warmupMs);
  });
  const result = await client.run(spec);
  const [start, end] = [await afterWarmup, await sample()];
  const calls = Math.max(1, result.calls);
  return { ...result, clientCpuUsPerCall: (end.client - start.client) / calls, serverCpuUsPerCall: (end.server - start.server) / calls };
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Stops workers newest first and never throws, so cleanup always completes. */
async function stopAll(workers: readonly BenchWorker[]): Promise<void> {
  for (const worker of [...workers].reverse()) await worker.stop().catch(() => undefined);
}

/**
 * Shoal: the coordinator server runs in this (otherwise idle) parent process, as the control
 * process would; the server and client are node processes joined through it.
 */
export async function startShoalPair(settings: BenchSettings): Promise<RpcPair> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-rpc-'));
  const secret = randomBytes(24).toString('hex');
  const coordinator = await startCoordinatorServer({ dataDir: dir, host: '127.0.0.1', port: 0, secret });
  const workers: BenchWorker[] = [];
  const cleanup = async () => {
    await stopAll(workers);
    await coordinator.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const common = { env: { SHOAL_SECRET: secret }, nodeFlags: workerFlags(settings) };
    const server = await BenchWorker.start({ name: 'shoal server', file: here('./shoal-server.ts'), args: ['bench-server', coordinator.url], ...common });
    workers.push(server.worker);
    const client = await BenchWorker.start({ name: 'shoal client', file: here('./shoal-client.ts'), args: ['bench-client', coordinator.url], ...common });
    workers.push(client.worker);
    return { run: (spec) => measureCase(client.worker, server.worker, spec), stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Moleculer: two brokers on the TCP transporter that know each other's static address. */
export async function startMoleculerPair(settings: BenchSettings): Promise<RpcPair> {
  const serverPort = await freePort();
  const clientPort = await freePort();
  const urls = [`127.0.0.1:${serverPort}/mol-server`, `127.0.0.1:${clientPort}/mol-client`];
  const workers: BenchWorker[] = [];
  try {
    const nodeFlags = workerFlags(settings);
    const server = await BenchWorker.start({
      name: 'moleculer server',
      file: here('./moleculer-server.ts'),
      args: ['mol-server', String(serverPort), ...urls],
      nodeFlags,
    });
    workers.push(server.worker);
    const client = await BenchWorker.start({
      name: 'moleculer client',
      file: here('./moleculer-client.ts'),
      args: ['mol-client', String(clientPort), ...urls],
      nodeFlags,
    });
    workers.push(client.worker);
    return { run: (spec) => measureCase(client.worker, server.worker, spec), stop: () => stopAll(workers) };
  } catch (err) {
    await stopAll(workers);
    throw err;
  }
}
