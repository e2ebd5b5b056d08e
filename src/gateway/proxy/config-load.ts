/**
 * Reading a YAML config file into a validated LbConfig. Every problem is reported with the
 * line and column it comes from, so an operator fixing a reload that was refused can go
 * straight to it.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { lbConfigSchema, type LbConfig } from './config-schema.ts';

export interface ConfigProblem {
  /** 1-based; absent when the problem has no place in the file (a missing file). */
  line?: number;
  column?: number;
  /** Dotted path of the setting, e.g. backends.web.algorithm. */
  path: string;
  message: string;
}

/** An invalid configuration; the message lists every problem as `file:line:column: path: message`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly source: string;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[]) {
    super(problems.map((problem) => formatProblem(source, problem)).join('\n'));
    this.source = source;
    this.problems = problems;
  }
}

function formatProblem(source: string, problem: ConfigProblem): string {
  const place = problem.line === undefined ? source : `${source}:${problem.line}:${problem.column ?? 1}`;
  return problem.path === '' ? `${place}: ${problem.message}` : `${place}: ${problem.path}: ${problem.message}`;
}

type Path = readonly PropertyKey[];

/**
 * The node a path leads to in the YAML tree, or the deepest one that exists on the way (a
 * missing key is reported where its parent is). With `key`, the key node of that entry.
 */
function nodeAt(doc: Document, path: Path, key?: string): Node | undefined {
  let node: unknown = doc.contents;
  let found = node as Node | undefined;
  const segments = key === undefined ? path : [...path, key];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return found;
      if (last && key !== undefined) return pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return found;
    }
    if (node && typeof node === 'object' && 'range' in node) found = node as Node;
  }
  return found;
}

function placeOf(doc: Document, lines: LineCounter, path: Path, key?: string): { line?: number; column?: number } {
  const node = nodeAt(doc, path, key);
  const offset = node?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function dotted(path: Path): string {
  return path.map(String).join('.');
}

function problemsFromIssues(doc: Document, lines: LineCounter, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path as Path;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ ...placeOf(doc, lines, path, key), path: dotted([...path, key]), message: `unknown key "${key}"` });
      }
    } else {
      problems.push({ ...placeOf(doc, lines, path), path: dotted(path), message: issue.message });
    }
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** Parses and validates YAML text; `source` names the file in error messages. */
export function parseConfigText(text: string, source = 'config'): LbConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => ({
        line: error.linePos?.[0].line,
        column: error.linePos?.[0].col,
        path: '',
        message: error.message.split('\n')[0],
      })),
    );
  }
  return validateConfig(doc.toJS(), source, doc, lines);
}

/**
 * Validates a config object (from YAML or built from flags). With the YAML document and its
 * line counter, problems carry their line.
 */
export function validateConfig(value: unknown, source = 'config', doc?: Document, lines?: LineCounter): LbConfig {
  const result = lbConfigSchema.safeParse(value ?? {});
  if (result.success) return result.data;
  if (doc && lines) throw new ConfigError(source, problemsFromIssues(doc, lines, result.error.issues));
  throw new ConfigError(
    source,
    result.error.issues.map((issue) => ({
      path: dotted(issue.path as Path),
      message: issue.code === 'unrecognized_keys' ? `unknown keys ${issue.keys.join(', ')}` : issue.message,
    })),
  );
}

export async function loadConfigFile(path: string): Promise<LbConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the config file: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, path);
}
