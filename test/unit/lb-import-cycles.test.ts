import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const folder = join(root, 'src/gateway/proxy');

/** Each file's imports of other files in the folder, type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const name of readdirSync(folder).filter((file) => file.endsWith('.ts'))) {
    const file = join(folder, name);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const local = importedFiles.map((ref) => ref.fileName).filter((spec) => spec.startsWith('.')).map((spec) => resolve(folder, spec));
    graph.set(file, local.filter((target) => dirname(target) === folder));
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the files along it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    const at = path.indexOf(file);
    if (at !== -1) {
      found.push([...path.slice(at), file]);
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  return found;
}

describe('src/gateway/proxy imports', () => {
  it('have no cycle, type-only imports included', () => {
    const graph = importGraph();
    assert.ok(graph.size > 20, 'the folder was read');
    const names = cycles(graph).map((cycle) => cycle.map((file) => relative(folder, file)).join(' -> '));
    assert.deepEqual(names, []);
  });

  it('keep the exchange, the relay and the tunnel off the client connection', () => {
    const graph = importGraph();
    const connection = join(folder, 'client-connection.ts');
    for (const name of ['proxy-exchange.ts', 'response-relay.ts', 'upgrade-proxy.ts']) {
      assert.ok(!(graph.get(join(folder, name)) ?? []).includes(connection), `${name} imports client-connection.ts`);
    }
  });
});
