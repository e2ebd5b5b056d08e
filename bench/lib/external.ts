/**
 * Running peers that are not Node programs (HAProxy, nginx, wrk, database servers): finding their
 * binaries, pinning them to CPUs, starting them in their own process group so that a whole tree
 * (e.g. nginx's master and workers) stops together, and making sure none outlives the bench, also
 * when it fails or is interrupted with Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

/** Directories searched after PATH: server binaries live in sbin, which a user's PATH often lacks. */
const sbinDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `name` on PATH or in the sbin directories, or undefined when it is not installed. */
export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...sbinDirs];
  for (const dir of dirs) {
    const file = join(dir, name);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/**
 * The command line that runs `command` pinned to `cpus` (a taskset list such as "0" or "2-3"),
 * or unpinned when no CPU list is given.
 */
export function pinnedCommand(taskset: string | undefined, cpus: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return taskset && cpus !== undefined ? [taskset, ['-c', cpus, command, ...args]] : [command, [...args]];
}

const running = new Set<ExternalProcess>();
let hooksInstalled = false;

/** On exit or a terminating signal, kill every process group still running. */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const proc of running) proc.killNow('SIGKILL');
  });
  const signals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const [signal, code] of Object.entries(signals)) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${running.size} external process(es)`);
      process.exit(code);
    });
  }
}

export interface ExternalOptions {
  /** Shown in messages. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Keep all of stdout (for load generators whose report is their output); otherwise only its tail. */
  keepStdout?: boolean;
  /** Run as this user (PostgreSQL refuses to run as root); the bench's own user when unset. */
  user?: SystemUser;
}

/** A system account to run a process as. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

const tailBytes = 4096;

/** One external process (and its children) in a process group of its own. */
export class ExternalProcess {
  readonly name: string;
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitedPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: ExternalOptions) {
    installHooks();
    this.name = options.name;
    this.child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    });
    running.add(this);
    const keep = (current: string, chunk: Buffer, all: boolean) => {
      const next = current + chunk.toString('utf8');
      return all || next.length <= tailBytes ? next : next.slice(-tailBytes);
    };
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout = keep(this.stdout, chunk, options.keepStdout === true)));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr = keep(this.stderr, chunk, false)));
    this.exitedPromise = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        this.exitInfo = { code, signal };
        running.delete(this);
        resolve(this.exitInfo);
      };
      this.child.on('error', (err) => {
        this.stderr += `\n${err.message}`;
        done(127, null);
      });
      this.child.on('close', done);
    });
  }

  get exited(): boolean {
    return this.exitInfo !== undefined;
  }

  get output(): { stdout: string; stderr: string } {
    return { stdout: this.stdout, stderr: this.stderr };
  }

  /** Resolves when the process has exited and its output is read. */
  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitedPromise;
  }

  /** A one-line description of how it ended and the end of what it printed, for error messages. */
  describeExit(): string {
    const how = this.exitInfo ? (this.exitInfo.signal ?? `code ${this.exitInfo.code}`) : 'still running';
    // The first lines carry the error (a usage text or stack may follow), the last ones the latest news.
    const lines = `${this.stderr}\n${this.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
    const text = (lines.length <= 4 ? lines : [...lines.slice(0, 2), '…', ...lines.slice(-2)]).join(' | ');
    return `${this.name} exited (${how})${text ? `: ${text}` : ''}`;
  }

  /** Signals the whole process group right away; used by the exit hook and by stop(). */
  killNow(signal: NodeJS.Signals): void {
    if (this.exitInfo || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM to the group, SIGKILL if it has not left within `graceMs`. Never throws. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exitInfo) return;
    const pid = this.child.pid;
    this.killNow('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.killNow('SIGKILL');
    }, graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
    // A leader killed hard may leave children in its group (nginx workers after their master).
    if (forced && pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Nothing left.
      }
    }
  }
}

/** The account `name` from /etc/passwd, or undefined when there is none. */
export function systemUser(name: string): SystemUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until `host:port` accepts connections; fails early when `proc` exits first. */
export async function waitForPort(proc: ExternalProcess, host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw new Error(proc.describeExit());
    if (await canConnect(host, port)) return;
    if (performance.now() > deadline) throw new Error(`${proc.name} did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs a command to completion (e.g. `nginx -v`) and returns its exit code and output. */
export async function runCommand(
  name: string,
  command: string,
  args: readonly string[],
  options: Pick<ExternalOptions, 'cwd' | 'env' | 'user'> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = new ExternalProcess({ name, command, args, keepStdout: true, ...options });
  const { code } = await proc.wait();
  return { code, ...proc.output };
}
