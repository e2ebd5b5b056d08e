import { parseArgs } from 'node:util';
import { closest } from './suggest.ts';

/** Bad command-line input: the CLI prints the message and how to get help, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose usage line follows the message; main fills it in when a command does not. */
  command: CommandAbout | undefined;
  constructor(message: string, command?: CommandAbout) {
    super(message);
    this.command = command;
  }
}

/** A failure the user should read as is: the CLI prints the message and exits 1 (or `exitCode`). */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** `--help` was given: main prints `text` on stdout and exits 0, before the command does anything. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
  readonly about: CommandAbout;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  constructor(about: CommandAbout, flags: Readonly<Record<string, FlagSpec>>) {
    super('help requested');
    this.about = about;
    this.flags = flags;
  }
}

/** One flag of a command. The shape is a superset of `node:util` parseArgs options. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  multiple?: boolean;
  /** One line for `--help`. */
  help?: string;
  /** The value's placeholder in `--help` (`--nodes N`); default `VALUE`. */
  value?: string;
}

export type Flags = Readonly<Record<string, FlagSpec>>;

export interface PositionalSpec {
  name: string;
  help: string;
}

/** What `--help` and usage errors say about a command; everything is optional so a bare flag set works too. */
export interface CommandAbout {
  name?: string;
  /** One line, for `shoal --help` and the first line of the command's own help. */
  summary?: string;
  /** What follows `shoal NAME` in the usage line, e.g. `[CONFIG] [options]`. */
  usage?: string;
  positionals?: readonly PositionalSpec[];
  /** Which of the global flags the command takes (default: all of them). */
  globals?: readonly GlobalFlagName[];
  /** Free text after the flag list. */
  notes?: string;
}

/** A command's whole description: `parseCommand(argv, spec.flags, spec)`. */
export interface CommandSpec<F extends Flags = Flags> extends CommandAbout {
  name: string;
  summary: string;
  flags: F;
}

/** Flags every command takes unless it says otherwise; they may come before or after the command. */
export const globalFlags = {
  dir: { type: 'string', default: './.shoal', value: 'DIR', help: 'cluster directory (default ./.shoal)' },
  port: { type: 'string', value: 'P', help: 'port base (default 7400): gateway P, control P+50, admin P+51, node i P+100+i and P+200+i' },
  help: { type: 'boolean', short: 'h', default: false, help: 'show this help' },
} as const satisfies Flags;

export type GlobalFlagName = keyof typeof globalFlags;
type Globals = typeof globalFlags;

type ValueOf<S extends FlagSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['multiple'] extends true
    ? string[]
    : S extends { default: string }
      ? string
      : string | undefined;

export type FlagValues<F extends Flags> = { -readonly [K in keyof F]: ValueOf<F[K]> };

export interface ParsedCommand<F extends Flags> {
  values: FlagValues<Globals & F>;
  positionals: string[];
}

const DEFAULT_PORT = 7400;

/** The global flags a command takes; `--help` always. */
export function globalsOf(about: CommandAbout): Flags {
  const names = about.globals ?? (Object.keys(globalFlags) as GlobalFlagName[]);
  const picked: Record<string, FlagSpec> = {};
  for (const name of names) picked[name] = globalFlags[name];
  picked.help = globalFlags.help;
  return picked;
}

function display(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * Parses a command's arguments against its flags and the global ones. Flags and positionals may
 * come in any order; `--` ends the flags. An unknown flag is a UsageError that suggests the
 * nearest known one; `--help` is a HelpRequested, thrown before any other check so
 * `shoal up --nodez --help` still helps.
 */
export function parseCommand<const F extends Flags>(argv: readonly string[], flags: F, about: CommandAbout = {}): ParsedCommand<F> {
  const all: Flags = { ...globalsOf(about), ...flags };
  const nodeOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(all)) {
    nodeOptions[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  // Not strict: unknown flags come back as tokens, so the message can be ours, with a suggestion.
  const { tokens } = parseArgs({ args: [...argv], options: nodeOptions, strict: false, allowPositionals: true, tokens: true });
  const optionTokens = tokens.filter((t) => t.kind === 'option');
  if (optionTokens.some((t) => t.name === 'help' && Object.hasOwn(all, 'help'))) throw new HelpRequested(about, flags);

  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(all)) {
    if (spec.multiple) values[name] = [];
    else if (spec.default !== undefined) values[name] = spec.default;
    else if (spec.type === 'boolean') values[name] = false;
  }
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(all, token.name) ? all[token.name] : undefined;
    if (!spec) throw unknownFlag(token.rawName, all, about);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value (got "${token.value}")`, about);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    // Without strict parsing, `--nodes --detach` would take "--detach" as the number of nodes.
    if (value === undefined || (!token.inlineValue && isKnownFlag(value, all))) {
      throw new UsageError(`${token.rawName} needs a value${spec.value ? ` (${display(token.name)} ${spec.value})` : ''}`, about);
    }
    if (spec.multiple) (values[token.name] as string[]).push(value);
    else values[token.name] = value;
  }
  return { values: values as FlagValues<Globals & F>, positionals };
}

function isKnownFlag(arg: string, flags: Flags): boolean {
  if (arg.startsWith('--')) return Object.hasOwn(flags, arg.slice(2).split('=')[0]);
  if (arg.length === 2 && arg.startsWith('-')) return Object.values(flags).some((f) => f.short === arg[1]);
  return false;
}

function unknownFlag(raw: string, flags: Flags, about: CommandAbout): UsageError {
  const name = raw.replace(/^-+/, '');
  const suggestion = closest(name, Object.keys(flags));
  if (suggestion !== undefined) return new UsageError(`unknown flag ${raw}; did you mean --${suggestion}?`, about);
  return new UsageError(`unknown flag ${raw}`, about);
}

/** Parses with a command's own spec: flags, help text and the global flags it takes. */
export function parseWith<const F extends Flags>(spec: CommandSpec<F>, argv: readonly string[]): ParsedCommand<F> {
  return parseCommand(argv, spec.flags, spec);
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
