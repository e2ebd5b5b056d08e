import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './machine.ts';

/** One row of bench/results/<suite>.json: one system in one case. */
export interface ResultRow {
  system: string;
  case: string;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** Time from killing a leader to the first acknowledged write, over several kills of one system. */
export interface FailoverRow {
  system: string;
  kills: number;
  /** Kills after which a write was acknowledged in time; the others count as failures. */
  recovered: number;
  median_ms: number;
  max_ms: number;
  samples_ms: number[];
}

export interface SuiteResults {
  suite: string;
  machine: MachineInfo;
  rows: ResultRow[];
  /** Only when a suite measured failover. */
  failover?: FailoverRow[];
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Writes bench/results/<suite>.json and returns its path. */
export function writeResults(results: SuiteResults): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${results.suite}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** Rounds for the JSON file: enough digits to recompute ratios, no float noise. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
