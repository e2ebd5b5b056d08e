/**
 * Helpers for tests that run a real local cluster: free port bases, temporary cluster
 * directories, the real CLI as a child process, and gateway calls that record their outcome
 * instead of throwing, so a test can check a whole history.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterStatus, ProcessStatus } from '../../src/cluster/index.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const cliEntry = join(repoRoot, 'src/cli/main.ts');

// Bases stay below Linux's ephemeral range (32768+), where outgoing connections would take ports.
const PORT_SLOT = 300;
const PORT_SLOTS = 42;
const PORT_FLOOR = 20000;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

const reservations = join(tmpdir(), 'shoal-test-ports');
const reserved: string[] = [];
process.once('exit', () => {
  for (const path of reserved) rmSync(path, { force: true });
});

/**
 * Claims a base for this test process with a lock file, so test files running in parallel never
 * pick the same one; a lock whose owner died is taken over.
 */
function reserve(base: number): boolean {
  mkdirSync(reservations, { recursive: true });
  const path = join(reservations, `${base}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      reserved.push(path);
      return true;
    } catch {
      const owner = Number(readFileSync(path, 'utf8'));
      if (owner === process.pid || (Number.isInteger(owner) && owner > 0 && isAlive(owner))) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

/** A random port base, reserved for this process, whose cluster ports are free right now. */
export async function freePortBase(nodes = 4): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = PORT_FLOOR + Math.floor(Math.random() * PORT_SLOTS) * PORT_SLOT;
    if (!reserve(base)) continue;
    const ports = [base, base + 50, base + 51];
    for (let i = 1; i <= nodes; i++) ports.push(base + 100 + i, base + 200 + i);
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base found');
}

export function tempClusterDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'shoal-cluster-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting its output; killed after `timeoutMs`. */
export function runCommand(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, [...args], { cwd: options.cwd, ...(options.env ? { env: options.env } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Runs `shoal ARGS` as a separate process on this Node, as a user would. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runCommand(process.execPath, [cliEntry, ...args], { cwd: repoRoot, timeoutMs });
}

/** `shoal status --json`, parsed; throws with the CLI's output when it fails. */
export async function cliStatus(dir: string): Promise<ClusterStatus> {
  const result = await runCli(['status', '--dir', dir, '--json']);
  if (result.code !== 0) throw new Error(`shoal status failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as ClusterStatus;
}

export function processById(status: ClusterStatus, id: string): ProcessStatus | undefined {
  return status.processes.find((p) => p.id === id);
}

/** The outcome of one gateway call, kept for history checks. */
export interface CallRecord {
  at: number;
  op: string;
  ok: boolean;
  status: number;
  node: string | null;
  body: unknown;
  error?: string;
}

export interface CallOptions {
  version?: number;
  method?: 'GET' | 'POST';
  timeoutMs?: number;
  /** Presented as a bearer token: built-in `$…` services answer only with the cluster's admin token. */
  adminToken?: string;
}

/** The admin token a cluster started in `dir` generated for itself. */
export function adminTokenOf(dir: string): string {
  return readFileSync(join(dir, 'admin-token'), 'utf8').trim();
}

/** Calls `service.action` through the gateway; never throws. */
export async function callGateway(gatewayUrl: string, service: string, action: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<CallRecord> {
  const at = Date.now();
  const method = options.method ?? 'POST';
  let url = `${gatewayUrl}/api/v${options.version ?? 1}/${encodeURIComponent(service)}/${encodeURIComponent(action)}`;
  if (method === 'GET') url += `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`;
  const op = `${method} ${service}.${action}`;
  try {
    const response = await fetch(url, {
      method,
      headers: {
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        ...(options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {}),
      },
      body: method === 'POST' ? JSON.stringify(params) : undefined,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: a non-JSON answer is itself worth seeing in a failure message.
    }
    return { at, op, ok: response.ok, status: response.status, node: response.headers.get('x-shoal-node'), body, error: response.ok ? undefined : text.slice(0, 300) };
  } catch (err) {
    return { at, op, ok: false, status: 0, node: null, body: undefined, error: err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err) };
  }
}

/** Runs `count` calls with `concurrency` in flight. */
export async function callMany(count: number, concurrency: number, call: (i: number) => Promise<CallRecord>): Promise<CallRecord[]> {
  const records: CallRecord[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      records.push(await call(i));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return records;
}

export function countByNode(records: CallRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) if (r.ok && r.node) counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  return counts;
}

/** Calls in a loop until stopped, recording every outcome. */
export class CallerLoop {
  readonly records: CallRecord[] = [];
  #running = true;
  readonly #workers: Promise<void>[];

  constructor(concurrency: number, call: (i: number) => Promise<CallRecord>) {
    let i = 0;
    this.#workers = Array.from({ length: concurrency }, async () => {
      while (this.#running) {
        this.records.push(await call(i++));
        // A short pause keeps the loop from starving the processes it watches.
        await sleep(5);
      }
    });
  }

  async stop(): Promise<CallRecord[]> {
    this.#running = false;
    await Promise.all(this.#workers);
    return this.records;
  }
}

export function describeFailures(records: CallRecord[], limit = 10): string {
  return records
    .filter((r) => !r.ok)
    .slice(0, limit)
    .map((r) => `${new Date(r.at).toISOString()} ${r.op} -> ${r.status} ${r.error ?? ''}`)
    .join('\n');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Last resort for after() hooks: SIGKILL whatever pids are still alive. */
export function killLeftovers(pids: Iterable<number>): void {
  for (const pid of pids) {
    if (pid !== process.pid && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone in between.
      }
    }
  }
}
