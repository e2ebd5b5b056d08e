/**
 * Driving wrk and reading its report: "Requests/sec", the --latency distribution (50% and 99%,
 * printed in us, ms, s, m or h) and the error counters.
 */
import { ExternalProcess, pinnedCommand } from '../lib/external.ts';

export interface WrkReport {
  requests: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses outside 2xx/3xx. */
  non2xx: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
}

const unitsMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A wrk duration such as "812.00us", "1.23ms" or "2.01s", in milliseconds. */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`unreadable wrk time ${JSON.stringify(text)}`);
  return Number(match[1]) * unitsMs[match[2]];
}

/** Parses the report of `wrk --latency`. */
export function parseWrkReport(output: string): WrkReport {
  const perSec = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  if (!perSec || !p50 || !p99) throw new Error(`wrk printed no complete report:\n${output.trim()}`);
  const requests = /^\s+(\d+) requests in /m.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: requests ? Number(requests[1]) : 0,
    opsPerSec: Number(perSec[1]),
    p50Ms: parseWrkTime(p50[1]),
    p99Ms: parseWrkTime(p99[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

export interface WrkOptions {
  wrk: string;
  taskset: string | undefined;
  /** CPU list for wrk, or undefined to leave it unpinned. */
  cpus: string | undefined;
  connections: number;
  seconds: number;
  url: string;
}

/** Runs wrk once with one thread and returns its parsed report. */
export async function runWrk(options: WrkOptions): Promise<WrkReport> {
  const seconds = Math.max(1, Math.round(options.seconds));
  const args = ['-t1', `-c${options.connections}`, `-d${seconds}s`, '--latency', options.url];
  const [command, argv] = pinnedCommand(options.taskset, options.cpus, options.wrk, args);
  const proc = new ExternalProcess({ name: 'wrk', command, args: argv, keepStdout: true });
  try {
    const { code } = await proc.wait();
    if (code !== 0) throw new Error(proc.describeExit());
    return parseWrkReport(proc.output.stdout);
  } finally {
    await proc.stop();
  }
}
