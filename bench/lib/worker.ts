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

/** The parent's handle on one bench worker process (see worker-protocol.ts). */
export class BenchWorker {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly waiters: Array<{ resolve: (m: FromWorker) => void; reject: (e: Error) => void }> = [];
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  private constructor(options: WorkerOptions) {
    this.name = options.name;
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.file, ...(options.args ?? [])], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env },
    });
    this.child.on('message', (message: FromWorker) => this.waiters.shift()?.resolve(message));
    this.exitedPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        const error = new Error(`${this.name} exited (${signal ?? `code ${code}`})`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(error);
        resolve();
      });
    });
  }

  /** Spawns the worker and resolves with its ready details once it can serve or call. */
  static async start(options: WorkerOptions): Promise<{ worker: BenchWorker; details: Record<string, unknown> }> {
    const worker = new BenchWorker(options);
    try {
      const message = await worker.next(options.startTimeoutMs ?? 30_000);
      if (message.type !== 'ready') throw new Error(`${worker.name} did not start: ${describe(message)}`);
      return { worker, details: message.details ?? {} };
    } catch (err) {
      await worker.stop();
      throw err;
    }
  }

  /** Runs one load case in a caller worker. */
  async run(spec: LoadSpec): Promise<LoadResult> {
    const reply = this.next(spec.warmupMs + spec.durationMs + 60_000);
    this.send({ type: 'run', spec });
    const message = await reply;
    if (message.type !== 'result') throw new Error(`${this.name}: ${describe(message)}`);
    return message.result;
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

  private next(timeoutMs: number): Promise<FromWorker> {
    if (this.exited) return Promise.reject(new Error(`${this.name} is not running`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
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
