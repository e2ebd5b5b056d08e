/**
 * A node process started outside the supervisor, the way a node joined by hand from another
 * machine is: it takes the same arguments the supervisor gives its own, but nothing restarts
 * it when it dies, so a test can kill it and keep it dead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliEntryPath, clusterDir, portPlan } from '../../src/cluster/index.ts';
import { ADMIN_TOKEN_ENV } from '../../src/core/index.ts';

export interface HandStartedNodeOptions {
  /** The cluster's directory: the node's data goes under it, its secret and admin token come from it. */
  dir: string;
  /** The cluster's port base: the node listens where the supervisor would put node `index`. */
  port: number;
  /** Makes the node `node-<index>`. */
  index: number;
  controlUrl: string;
  config: string;
  readyTimeoutMs?: number;
}

export class HandStartedNode {
  readonly id: string;
  readonly #options: HandStartedNodeOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(options: HandStartedNodeOptions) {
    this.#options = options;
    this.id = `node-${options.index}`;
  }

  /** Starts the process and resolves once it says it is ready; rejects if it exits first or takes too long. */
  async start(): Promise<void> {
    const { dir, port, index, controlUrl, config } = this.#options;
    const ports = portPlan(port);
    const [secret, adminToken] = await Promise.all([readFile(join(dir, 'secret'), 'utf8'), readFile(join(dir, 'admin-token'), 'utf8')]);
    const env: NodeJS.ProcessEnv = { ...process.env, SHOAL_SECRET: secret.trim(), [ADMIN_TOKEN_ENV]: adminToken.trim() };
    // The test runner's marker would make the node believe it is itself a test file.
    delete env.NODE_TEST_CONTEXT;
    const logFile = clusterDir(dir).logFile(this.id);
    const log = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      const args = [
        cliEntryPath, '_run', 'node',
        '--id', this.id,
        '--dir', dir,
        '--host', '127.0.0.1',
        '--control', controlUrl,
        '--transport-port', String(ports.nodeTransport(index)),
        '--http-port', String(ports.nodeHttp(index)),
        '--config', config,
      ];
      // The IPC channel carries "ready"; when this test process dies it closes, and the node stops with it.
      child = spawn(process.execPath, args, { env, stdio: ['ignore', log, log, 'ipc'] });
    } finally {
      closeSync(log);
    }
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const timeoutMs = this.#options.readyTimeoutMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id} was not ready within ${timeoutMs} ms`)), timeoutMs);
      child.on('message', (message: { type?: unknown } | null) => {
        if (message?.type !== 'ready') return;
        clearTimeout(timer);
        resolve();
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.id} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}); see ${logFile}`));
      });
    });
  }

  /** SIGKILL, as a crash would: no shutdown hook runs. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.#exited;
  }
}
