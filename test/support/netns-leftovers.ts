/**
 * Names of what a TestNetwork creates, and the sweep that removes what a killed run left.
 *
 * Every name carries the creating process's pid (`sh-<pid base 36>-<seq>` plus a suffix), so a
 * later run can tell a live run's namespaces, which it must not touch, from a dead one's.
 * Interface names are limited to 15 characters by the kernel, hence the terse form.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shell, type ShellResult } from './netns-shell.ts';

/** b: the bridge, n: a namespace, v: a veth end on the bridge, p: its peer before it moves in. */
const OWNED_NAME = /^sh-([0-9a-z]+)-(\d+)([bnpv])(\d*)$/;
/** The comment on the root namespace's firewall rules a run adds. */
const RULE_COMMENT = /--comment "?shoal-netns:(sh-[0-9a-z]+-\d+)"?/;

export const LOCK_DIR = join(tmpdir(), 'shoal-netns');

let sequence = 0;

/** A run id unique among live processes: this pid and a counter within it. */
export function nextRunId(): string {
  sequence += 1;
  return `sh-${process.pid.toString(36)}-${sequence}`;
}

export function ruleComment(runId: string): string {
  return `shoal-netns:${runId}`;
}

function pidOfRun(runId: string): number | undefined {
  const match = /^sh-([0-9a-z]+)-\d+$/.exec(runId);
  return match ? parseInt(match[1], 36) : undefined;
}

/** The run id a namespace or interface name belongs to, or undefined when it is not ours. */
export function runOfName(name: string): string | undefined {
  const match = OWNED_NAME.exec(name);
  return match ? `sh-${match[1]}-${match[2]}` : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isDeadRun(runId: string | undefined): runId is string {
  if (runId === undefined) return false;
  const pid = pidOfRun(runId);
  return pid !== undefined && pid !== process.pid && !isAlive(pid);
}

/** First words of `ip netns list` / `ip -o link show` lines: the names. */
function names(result: ShellResult, pattern: RegExp): string[] {
  if (result.code !== 0) return [];
  return [...result.stdout.matchAll(pattern)].map((m) => m[1]);
}

/**
 * Removes the namespaces, interfaces, firewall rules and address locks of runs whose process
 * is gone (killed before its close or exit handler ran). Returns what it removed.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = names(await shell('ip', ['netns', 'list']), /^(\S+)/gm);
  for (const ns of namespaces.filter((n) => isDeadRun(runOfName(n)))) {
    await killNamespacePids(ns);
    if ((await shell('ip', ['netns', 'delete', ns])).code === 0) removed.push(ns);
  }
  // Deleting a namespace takes its veth ends with it; bridges and stray host ends remain.
  const links = names(await shell('ip', ['-o', 'link', 'show']), /^\d+:\s+([^:@\s]+)/gm);
  for (const link of links.filter((l) => isDeadRun(runOfName(l)))) {
    if ((await shell('ip', ['link', 'delete', link])).code === 0) removed.push(link);
  }
  for (const chain of ['FORWARD', 'INPUT']) {
    const rules = await shell('iptables', ['-w', '-S', chain]);
    if (rules.code !== 0) continue;
    for (const line of rules.stdout.split('\n')) {
      const run = RULE_COMMENT.exec(line)?.[1];
      if (!isDeadRun(run)) continue;
      const spec = line.trim().split(/\s+/).map((word) => word.replace(/^"|"$/g, ''));
      spec[0] = '-D';
      if ((await shell('iptables', ['-w', ...spec])).code === 0) removed.push(`iptables ${chain} rule of ${run}`);
    }
  }
  for (const file of lockFiles()) {
    const owner = readLock(file);
    if (owner !== undefined && isDeadRun(owner)) {
      rmSync(join(LOCK_DIR, file), { force: true });
      removed.push(file);
    }
  }
  return removed;
}

/** Processes still inside a namespace keep it (and its veth) alive after its name is deleted. */
export async function killNamespacePids(ns: string): Promise<void> {
  const result = await shell('ip', ['netns', 'pids', ns]);
  if (result.code !== 0) return;
  for (const pid of result.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

function lockFiles(): string[] {
  try {
    return readdirSync(LOCK_DIR).filter((f) => f.endsWith('.lock'));
  } catch {
    return [];
  }
}

function readLock(file: string): string | undefined {
  try {
    return readFileSync(join(LOCK_DIR, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Claims a /24 of 10.77.0.0/16 for a run with a lock file, so test files running in parallel
 * never put two bridges on one subnet; a lock whose run died is taken over. `inUse` says
 * whether the machine already has an address in a subnet (someone else's, locked or not).
 */
export function claimSubnet(runId: string, inUse: (third: number) => boolean): number {
  mkdirSync(LOCK_DIR, { recursive: true });
  const start = Math.floor(Math.random() * 250);
  for (let k = 0; k < 250; k++) {
    const third = (start + k) % 250;
    if (inUse(third)) continue;
    const path = join(LOCK_DIR, `subnet-${third}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, runId, { flag: 'wx' });
        return third;
      } catch {
        const owner = readLock(`subnet-${third}.lock`);
        if (owner === undefined || !isDeadRun(owner)) break;
        rmSync(path, { force: true });
      }
    }
  }
  throw new Error('no free 10.77.X.0/24 subnet for a test network');
}

export function releaseSubnet(third: number, runId: string): void {
  const file = `subnet-${third}.lock`;
  if (readLock(file) === runId) rmSync(join(LOCK_DIR, file), { force: true });
}
