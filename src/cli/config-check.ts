import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtinStrategies } from '../balance/index.ts';
import { findDefaultConfig, noConfigMessage } from '../cluster/index.ts';
import { configFromModule, InvalidConfigError, type ShoalConfig } from '../core/index.ts';
import { CHAOS_COLLECTION, defineCollection } from '../data/index.ts';
import { CliError } from './args.ts';
import { closest } from './suggest.ts';

export const CONFIG_FILE = 'shoal.config.ts';

/** Shoal's own sources: frames in them are the messenger, not the mistake. */
const shoalSources = resolve(import.meta.dirname, '..') + sep;

export interface LoadedConfig {
  path: string;
  config: ShoalConfig;
}

/**
 * Loads and checks a config in this process, before any cluster process starts, so a mistake
 * is one message naming the file (and line, and service) rather than a node that dies at start.
 * `target` is a config file or a directory holding `shoal.config.ts`; absent, the bundled example.
 * Every failure is a CliError with exit code 2, as for other bad input.
 */
export async function loadConfig(target: string | undefined): Promise<LoadedConfig> {
  const path = await configPathOf(target);
  let module: unknown;
  try {
    module = await import(pathToFileURL(path).href);
  } catch (err) {
    throw new CliError(`invalid config ${describeImportError(err, path)}`, 2);
  }
  const config = (module as { default?: unknown }).default;
  try {
    const checked = configFromModule(module, path, { strategies: strategyNames(config), suggest: closest });
    const problems = dataProblems(checked);
    if (problems.length > 0) throw new InvalidConfigError(path, problems);
    return { path, config: checked };
  } catch (err) {
    if (err instanceof InvalidConfigError) throw new CliError(`invalid config ${err.message}`, 2);
    throw err;
  }
}

async function configPathOf(target: string | undefined): Promise<string> {
  // Without one: the project's own shoal.config.ts, else (in this repository) the bundled example.
  if (target === undefined) {
    const found = findDefaultConfig();
    if (found === undefined) throw new CliError(noConfigMessage());
    return found;
  }
  const path = resolve(target);
  const found = await stat(path).catch(() => undefined);
  if (!found) throw new CliError(`config file not found: ${path}`, 2);
  if (!found.isDirectory()) return path;
  const inside = join(path, CONFIG_FILE);
  if (!(await stat(inside).catch(() => undefined))?.isFile()) throw new CliError(`${path} is a directory without a ${CONFIG_FILE}`, 2);
  return inside;
}

/** Built-in strategies and those the config's plugins bring. */
function strategyNames(config: unknown): string[] {
  const names = Object.keys(builtinStrategies);
  const plugins = (config as { plugins?: unknown } | null)?.plugins;
  if (Array.isArray(plugins)) {
    for (const plugin of plugins) {
      const strategies = (plugin as { strategies?: unknown } | null)?.strategies;
      if (strategies && typeof strategies === 'object') names.push(...Object.keys(strategies));
    }
  }
  return names;
}

/** The data store's sections, checked the way the nodes would check them, but here and all at once. */
function dataProblems(config: ShoalConfig): string[] {
  const problems: string[] = [];
  const { collections, data } = config;
  if (collections !== undefined) {
    if (!Array.isArray(collections)) return ['collections must be an array of defineCollection(...) results'];
    const seen = new Map<string, number>();
    collections.forEach((collection, index) => {
      const position = index + 1;
      try {
        defineCollection(collection);
      } catch (err) {
        problems.push(`collection ${position}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      if (collection.name === CHAOS_COLLECTION) {
        problems.push(`collection ${position}: the name "${CHAOS_COLLECTION}" is reserved (shoal chaos test keeps its registers there); pick another`);
        return;
      }
      const first = seen.get(collection.name);
      if (first !== undefined) problems.push(`collections ${first} and ${position} are both named "${collection.name}"`);
      else seen.set(collection.name, position);
    });
  }
  const groups = data?.groups;
  if (groups !== undefined) {
    const valid = groups !== null && typeof groups === 'object' && Object.values(groups).every((g) => Array.isArray(g) && g.every((name) => typeof name === 'string'));
    if (!valid) problems.push("data.groups must map node ids to lists of group names, e.g. { 'node-3': ['analytics'] }");
  }
  const replicas = data?.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 7)) problems.push(`data.replicas must be a whole number from 1 to 7, got ${JSON.stringify(replicas)}`);
  const replicaTimeout = data?.replicaTimeout;
  if (replicaTimeout !== undefined && (typeof replicaTimeout !== 'number' || !Number.isFinite(replicaTimeout) || replicaTimeout < 1_000)) {
    problems.push(`data.replicaTimeout is in milliseconds and at least 1000, got ${JSON.stringify(replicaTimeout)}`);
  }
  return problems;
}

/**
 * `FILE:LINE:COLUMN: what`, for an error thrown while importing the config. Node's error for a
 * syntax error (TypeScript's or JavaScript's) names the file and line in its stack's first line
 * and marks the column with carets under the quoted line; any other error is placed at the first
 * frame in the user's own files.
 */
export function describeImportError(err: unknown, configPath: string): string {
  if (!(err instanceof Error)) return `${configPath}: ${String(err)}`;
  const code = (err as { code?: unknown }).code;
  if (err instanceof SyntaxError) {
    const where = syntaxErrorLocation(err);
    if (where) return `${where.file}:${where.line}:${where.column}: syntax error: ${err.message}\n${where.excerpt}`;
  }
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') return `${configPath}: ${err.message}`;
  const frame = userFrame(err);
  return `${frame ?? configPath}: ${err.message}`;
}

interface SourceLocation {
  file: string;
  line: number;
  column: number;
  excerpt: string;
}

function syntaxErrorLocation(err: SyntaxError): SourceLocation | undefined {
  const lines = (err.stack ?? '').split('\n');
  const header = /^(.+):(\d+)$/.exec(lines[0] ?? '');
  if (!header) return undefined;
  const file = header[1].startsWith('file://') ? fileURLToPath(header[1]) : header[1];
  // After the header: the quoted source, with a line of carets under the offending one.
  const caretIndex = lines.findIndex((l, i) => i > 0 && /^\s*\^+\s*$/.test(l));
  if (caretIndex < 2) return { file, line: Number(header[2]), column: 1, excerpt: '' };
  const source = lines[caretIndex - 1];
  const column = lines[caretIndex].indexOf('^') + 1;
  const gutter = `${header[2]} | `;
  const excerpt = `  ${gutter}${source}\n  ${' '.repeat(gutter.length - 2)}| ${lines[caretIndex].trimEnd()}`;
  return { file, line: Number(header[2]), column, excerpt };
}

/** `path:line:column` of the first stack frame outside Shoal and Node themselves. */
function userFrame(err: Error): string | undefined {
  for (const line of (err.stack ?? '').split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/)?\/[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!match) continue;
    const file = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    if (file.startsWith(shoalSources) || file.includes(`${sep}node_modules${sep}`)) continue;
    return `${file}:${match[2]}:${match[3]}`;
  }
  return undefined;
}
