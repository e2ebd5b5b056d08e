/**
 * The commands a network-namespace test runs (`ip`, `iptables`, `tc`), each run to its end with
 * its output kept, so a failure says which command failed and what it printed.
 */
import { spawn, spawnSync } from 'node:child_process';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command that exited non-zero: its message holds the command line and its stderr. */
export class ShellError extends Error {
  override readonly name = 'ShellError';
  readonly result: ShellResult;
  constructor(command: readonly string[], result: ShellResult) {
    super(`${command.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.result = result;
  }
}

/** How long one administrative command may take before it counts as hung. */
const COMMAND_TIMEOUT_MS = 20_000;

/** Runs `command` with `args` to its end; collects its output and never throws. */
export function shell(command: string, args: readonly string[]): Promise<ShellResult> {
  return new Promise((done) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      done({ code: null, stdout, stderr: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Like `shell`, but a non-zero exit is a ShellError; resolves with stdout. */
export async function mustShell(command: string, args: readonly string[]): Promise<string> {
  const result = await shell(command, args);
  if (result.code !== 0) throw new ShellError([command, ...args], result);
  return result.stdout;
}

/**
 * The synchronous form, for process exit: an 'exit' handler cannot wait for a child, so
 * cleanup there must run each command to its end before returning.
 */
export function shellSync(command: string, args: readonly string[]): ShellResult {
  const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? result.error?.message ?? '' };
}

/** Whether `command` can be run at all (it exists on PATH and starts). */
export function hasCommand(command: string, versionArgs: readonly string[]): boolean {
  const result = spawnSync(command, [...versionArgs], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
  return result.error === undefined;
}
