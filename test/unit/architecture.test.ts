/**
 * The layers of src/ as the design states them, checked on every import: a folder uses only
 * folders on lower lines, reaches them through their index.ts, and only entry points (cli,
 * cluster) pick a driver.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const srcRoot = resolve(import.meta.dirname, '../../src');

/** Top to bottom; folders on one line may not use each other. */
const layers: readonly (readonly string[])[] = [
  ['cli'],
  ['cluster'],
  ['gateway', 'dashboard'],
  ['backup'],
  ['queue', 'schedule'],
  ['data'],
  ['runtime'],
  ['balance', 'transport', 'control', 'observe'],
  ['consensus'],
  ['core'],
];
const lineOf = new Map(layers.flatMap((folders, line) => folders.map((folder) => [folder, line] as const)));

/** Driver folders: only an entry point constructs one. */
const drivers = ['control/embedded', 'transport/tcp'];
const entryPoints = new Set(['cli', 'cluster']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  file: string;
  from: string;
  to: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
    found.push({ file: relative(srcRoot, file), from: relative(srcRoot, file), to: relative(srcRoot, resolve(dirname(file), match[1])) });
  }
  return found;
}

const allImports = sourceFiles(srcRoot).flatMap(importsOf);
const folderOf = (path: string) => path.split('/')[0];
/** Files directly in src/ are the package's public entry points: above every folder, and free to use one another. */
const isEntryFile = (path: string) => !path.includes('/');

describe('the layers of src/', () => {
  it('knows every folder', () => {
    const unknown = readdirSync(srcRoot, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !lineOf.has(entry.name))
      .map((entry) => entry.name);
    assert.deepEqual(unknown, [], 'a new folder needs its line in the layers (and in ARCHITECTURE.md)');
  });

  it('has each folder use only folders on lower lines', () => {
    const upward = allImports.filter(({ from, to }) => {
      if (isEntryFile(from) && (isEntryFile(to) || lineOf.has(folderOf(to)))) return false;
      const [a, b] = [folderOf(from), folderOf(to)];
      return a !== b && (lineOf.get(b) ?? -1) <= (lineOf.get(a) ?? -1);
    });
    assert.deepEqual(upward.map((i) => `${i.file} -> ${i.to}`), []);
  });

  it('reaches another folder only through its index.ts (or a driver folder index.ts)', () => {
    const internal = allImports.filter(({ from, to }) => {
      if (folderOf(from) === folderOf(to) || isEntryFile(to)) return false;
      if (drivers.some((d) => to === `${d}/index.ts`)) return false;
      return to !== `${folderOf(to)}/index.ts`;
    });
    assert.deepEqual(internal.map((i) => `${i.file} -> ${i.to}`), []);
  });

  it('picks drivers only at entry points, and a contract folder exports no driver', () => {
    const misplaced = allImports.filter(({ from, to }) => {
      const driver = drivers.find((d) => to.startsWith(`${d}/`));
      if (!driver) return false;
      if (from.startsWith(`${driver}/`)) return false;
      return !entryPoints.has(folderOf(from));
    });
    assert.deepEqual(misplaced.map((i) => `${i.file} -> ${i.to}`), []);
  });
});
