import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Backoff, type BackoffPolicy } from '../core/index.ts';
import { isReadyHealth, probeHealth } from './health.ts';
import type { ClusterEvent, ProcessRole } from './types.ts';

export interface ProcessSpec {
  id: string;
  role: ProcessRole;
  /** Arguments after `_run ROLE`. */
  args: string[];
  address: string;
  /** Base URL of the process's /healthz. */
  url: string;
  /** A node's zone, when the cluster has zones. */
  zone?: string;
}

export interface SupervisedProcessOptions {
  spec: ProcessSpec;
  /** The CLI entry the process runs as `node ENTRY _run ROLE …`. */
  entry: string;
  /**
   * A command the process runs under, `[...prefix, node, ENTRY, …]` (e.g. `ip netns exec NS`
   * to start it in a network namespace). It must exec the rest in place: the pid, the IPC
   * channel and the process group the supervisor watches are then the node process's own.
   */
  prefix?: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  onEvent: (event: ClusterEvent) => void;
  readyTimeoutMs: number;
  /** How long a process may drain after SIGTERM before it gets SIGKILL. */
  stopGraceMs: number;
  /** Restart delays; default 0.5 s doubling to 10 s. */
  restartBackoff?: BackoffPolicy;
}

/** A process that stayed up this long is considered recovered: its next crash restarts it at once. */
const RECOVERED_AFTER_MS = 30_000;

type Mode = 'idle' | 'running' | 'waiting' | 'stopping' | 'stopped';

interface Incarnation {
  child: ChildProcess;
  startedAt: number;
  exited: Promise<void>;
  ready: Promise<void>;
  /** Set once `ready` resolved: until then a restarted process is not serving yet. */
  isReady: boolean;
}

export interface ProcessSnapshot {
  pid: number | null;
  /** The current process said it is ready (a replacement still starting has not). */
  ready: boolean;
  restarts: number;
  startedAt: string | null;
}

const HEALTH_POLL_MS = 250;

/**
 * One cluster process under supervision: started with a readiness wait, restarted with backoff
 * when it exits on its own, and stopped with a grace period for draining.
 */
export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly #options: SupervisedProcessOptions;
  readonly #backoff: Backoff;
  #mode: Mode = 'idle';
  #current: Incarnation | undefined;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  /** Set once the first start succeeded: a process that cannot start at all is not retried. */
  #supervised = false;

  constructor(options: SupervisedProcessOptions) {
    this.spec = options.spec;
    this.#options = options;
    // Delays double while a process keeps crashing soon after starting, so one that cannot start does not spin the machine.
    this.#backoff = new Backoff(options.restartBackoff ?? { initialMs: 500, maxMs: 10_000 });
  }

  get id(): string {
    return this.spec.id;
  }

  /** Starts the process and resolves once it is ready; rejects if it exits or stays unready. */
  async start(): Promise<void> {
    if (this.#mode !== 'idle') throw new Error(`${this.id} was already started`);
    this.#mode = 'running';
    const incarnation = this.#spawn();
    await incarnation.ready;
    this.#supervised = true;
  }

  snapshot(): ProcessSnapshot {
    const current = this.#current;
    if (!current || current.child.pid === undefined) return { pid: null, ready: false, restarts: this.#restarts, startedAt: null };
    return { pid: current.child.pid, ready: current.isReady, restarts: this.#restarts, startedAt: new Date(current.startedAt).toISOString() };
  }

  /**
   * SIGTERM, time to drain, then SIGKILL; the process is not restarted afterwards. With
   * `decommission`, the process is told first that it leaves the cluster for good (a node then
   * hands its data to the others), rather than stopping with the cluster.
   */
  stop(options: { decommission?: boolean } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.decommission === true);
    return this.#stopping;
  }

  async #stop(decommission: boolean): Promise<void> {
    this.#mode = 'stopping';
    clearTimeout(this.#restartTimer);
    const current = this.#current;
    if (current) {
      this.#options.onEvent({ type: 'stopping', id: this.id });
      if (decommission && current.child.connected) current.child.send({ type: 'decommission' });
      signal(current.child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#options.stopGraceMs);
      });
      const exitedInTime = await Promise.race([current.exited.then(() => true), graceOver]);
      clearTimeout(timer);
      if (!exitedInTime) {
        if (current.child.pid !== undefined) this.#options.onEvent({ type: 'killed', id: this.id, pid: current.child.pid });
        killGroup(current.child);
        await current.exited;
      }
      this.#options.onEvent({ type: 'stopped', id: this.id });
    }
    this.#mode = 'stopped';
  }

  /** Immediate SIGKILL, for when a graceful stop is no longer wanted. */
  kill(): void {
    this.#mode = 'stopping';
    clearTimeout(this.#restartTimer);
    if (this.#current) killGroup(this.#current.child);
  }

  #spawn(): Incarnation {
    const { spec, entry, env, cwd, logFile, onEvent } = this.#options;
    onEvent({ type: 'starting', id: spec.id, role: spec.role, address: spec.address });
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // A log line like the process's own (pino's shape), so every line of the file is one JSON object.
      writeSync(fd, `${JSON.stringify({ level: 'info', time: new Date().toISOString(), nodeId: spec.id, role: spec.role, msg: 'process starting', restart: this.#restarts })}\n`);
      // A process group of its own keeps a terminal's Ctrl-C away from the children, so the
      // supervisor alone decides the order in which they stop.
      const command = [...(this.#options.prefix ?? []), process.execPath, entry, '_run', spec.role, ...spec.args];
      child = spawn(command[0], command.slice(1), {
        cwd,
        env,
        stdio: ['ignore', fd, fd, 'ipc'],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    const startedAt = Date.now();
    const exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, sig: string | null) => {
        if (done) return;
        done = true;
        resolve();
        this.#onExit(incarnation, code, sig);
      };
      child.once('exit', finish);
      child.once('error', (err) => {
        // 'error' without 'exit' means the process never started.
        if (child.pid === undefined) {
          onEvent({ type: 'error', id: spec.id, message: err.message });
          finish(null, null);
        }
      });
    });
    const ready = this.#waitReady(child, exited);
    // Readiness of a restarted process is reported through events; nobody awaits it.
    ready.catch(() => undefined);
    const incarnation: Incarnation = { child, startedAt, exited, ready, isReady: false };
    ready.then(() => (incarnation.isReady = true), () => undefined);
    this.#current = incarnation;
    return incarnation;
  }

  #waitReady(child: ChildProcess, exited: Promise<void>): Promise<void> {
    const { spec, readyTimeoutMs, onEvent } = this.#options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      const timeout = setTimeout(() => settle(new Error(`${spec.id} did not become ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      const onMessage = (message: unknown) => {
        if (message && typeof message === 'object' && (message as { type?: unknown }).type === 'ready') settle();
      };
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        clearTimeout(poll);
        child.off('message', onMessage);
        if (error) {
          if (this.#mode === 'running') onEvent({ type: 'error', id: spec.id, message: error.message });
          reject(error);
        } else {
          onEvent({ type: 'ready', id: spec.id, pid: child.pid ?? 0, restarts: this.#restarts });
          resolve();
        }
      };
      child.on('message', onMessage);
      exited.then(() => settle(new Error(`${spec.id} exited before it was ready (code ${child.exitCode ?? 'none'}, signal ${child.signalCode ?? 'none'})`)));
      const probe = async () => {
        if (settled) return;
        const answer = await probeHealth(spec.url, 1000);
        if (settled) return;
        if (isReadyHealth(answer.health)) settle();
        else poll = setTimeout(() => void probe(), HEALTH_POLL_MS);
      };
      poll = setTimeout(() => void probe(), HEALTH_POLL_MS);
    });
  }

  #onExit(incarnation: Incarnation, code: number | null, sig: string | null): void {
    if (this.#current !== incarnation) return;
    this.#current = undefined;
    const expected = this.#mode !== 'running';
    this.#options.onEvent({ type: 'exited', id: this.id, pid: incarnation.child.pid ?? 0, code, signal: sig, expected });
    if (expected) return;
    if (!this.#supervised) {
      this.#mode = 'stopped';
      return;
    }
    if (Date.now() - incarnation.startedAt >= RECOVERED_AFTER_MS) this.#backoff.reset();
    const delayMs = this.#backoff.next();
    this.#mode = 'waiting';
    this.#options.onEvent({ type: 'restarting', id: this.id, delayMs });
    this.#restartTimer = setTimeout(() => {
      if (this.#mode !== 'waiting') return;
      this.#mode = 'running';
      this.#restarts += 1;
      this.#spawn();
    }, delayMs);
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig);
  } catch {
    // Already gone.
  }
}

/** SIGKILL to the whole group, so helpers a role started die with it. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    signal(child, 'SIGKILL');
  }
}
