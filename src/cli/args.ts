import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command-line input: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the user should read as is: the CLI prints the message and exits 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts. */
const commonOptions = {
  dir: { type: 'string', default: './.shoal' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

const DEFAULT_PORT = 7400;

export function parseCommand<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** An integer flag within bounds; `fallback` when the flag is absent. */
export function intOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function portOption(value: string | undefined): number {
  return intOption('port', value, DEFAULT_PORT, 1, 65535 - 300);
}

export function noMorePositionals(positionals: string[], max: number): void {
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
}
