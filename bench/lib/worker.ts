import { spawn, type ChildProcess } from 'node:child_process';
import type { LoadResult, LoadSpec } from './load.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';

export interface WorkerOptions {
  /** Shown in errors. */
  name: string;
  file: string;
  args?: readonly string[];
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: readonly string[];
  startTimeoutMs?: number;
}

interface Waiter {
  resolve: (message: FromWorker) => void;
  reject: (err: Error) => void;
}

/** Key under which a reply is awaited: requests by id, the start-up by 'ready'. */
type WaitKey = number | 'ready';

/** The parent's handle on one bench worker process (see worker-protocol.ts). */
export class BenchWorker {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly waiters = new Map<WaitKey, Waiter>();
  private nextId = 0;
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  private constructor(options: WorkerOptions) {
    this.name = options.name;
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.file, ...(options.args ?? [])], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env },
    });
    this.child.on('message', (message: FromWorker) => {
      const key: WaitKey = message.type === 'ready' || (message.type === 'failed' && message.id === undefined) ? 'ready' : message.id!;
      const waiter = this.waiters.get(key);
      this.waiters.delete(key);
      waiter?.resolve(message);
    });
    this.exitedPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        const error = new Error(`${this.name} exited (${signal ?? `code ${code}`})`);
        for (const waiter of this.waiters.values()) waiter.reject(error);
        this.waiters.clear();
        resolve();
      });
    });
  }

  /** Spawns the worker and resolves with its ready details once it can serve or call. */
  static async start(options: WorkerOptions): Promise<{ worker: BenchWorker; details: Record<string, unknown> }> {
    const worker = new BenchWorker(options);
    try {
      const message = await worker.reply('ready', options.startTimeoutMs ?? 30_000);
      if (message.type !== 'ready') throw new Error(`${worker.name} did not start: ${describe(message)}`);
      return { worker, details: message.details ?? {} };
    } catch (err) {
      await worker.stop();
      throw err;
    }
  }

  /** Runs one load case in a caller worker. */
  async run(spec: LoadSpec): Promise<LoadResult> {
    const id = ++this.nextId;
    const reply = this.reply(id, spec.warmupMs + spec.durationMs + 60_000);
    this.send({ type: 'run', id, spec });
    const message = await reply;
    if (message.type !== 'result') throw new Error(`${this.name}: ${describe(message)}`);
    return message.result;
  }

  /** Runs a named task in the worker (see WorkerTasks) and resolves with its value. */
  async task<T = unknown>(name: string, params: unknown = {}, timeoutMs = 30 * 60_000): Promise<T> {
    const id = ++this.nextId;
    const reply = this.reply(id, timeoutMs);
    this.send({ type: 'task', id, name, params });
    const message = await reply;
    if (message.type !== 'done') throw new Error(`${this.name} ${name}: ${describe(message)}`);
    return message.value as T;
  }

  /** CPU time (user + system, µs) the worker process has used so far. */
  async cpuMicros(): Promise<number> {
    const id = ++this.nextId;
    const reply = this.reply(id, 10_000);
    this.send({ type: 'cpu', id });
    const message = await reply;
    if (message.type !== 'cpu') throw new Error(`${this.name}: ${describe(message)}`);
    return message.micros;
  }

  /** Asks for a clean shutdown; kills the process if it does not leave in time. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 8_000);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  private send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  private reply(key: WaitKey, timeoutMs: number): Promise<FromWorker> {
    if (this.exited) return Promise.reject(new Error(`${this.name} is not running`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`${this.name} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }
}

function describe(message: FromWorker): string {
  return message.type === 'failed' ? message.message : `unexpected ${message.type} message`;
}
