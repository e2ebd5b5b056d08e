/**
 * What a client of the gateway can rely on: a bug in a handler shows as INTERNAL with an
 * error id and nothing of its message, GET only reaches actions that are safe to repeat,
 * OpenAPI lists what is served, and an answer from a node names the node even when it is an
 * error.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHandle } from '../../src/cluster/index.ts';
import { callGateway, freePortBase, removeDir, repoRoot, tempClusterDir } from '../support/cluster-harness.ts';
import { eventually } from '../support/eventually.ts';

function config(): string {
  const core = pathToFileURL(join(repoRoot, 'src/core/index.ts')).href;
  return `
import { action, defineConfig, defineService, z } from '${core}';

const created: string[] = [];

export const notes = defineService({
  name: 'notes',
  version: 1,
  actions: {
    add: action({
      params: z.object({ text: z.string().min(1) }),
      handler: (_ctx, { text }) => {
        created.push(text);
        return { count: created.length };
      },
    }),
    count: action({ params: z.object({}), idempotent: true, handler: () => ({ count: created.length }) }),
    broken: action({
      params: z.object({}),
      idempotent: true,
      handler: () => {
        throw new Error('connect ECONNREFUSED 10.0.0.7:5432 (db password=hunter2)');
      },
    }),
  },
});

export default defineConfig({ services: [notes] });
`;
}

/** The keys of a JSON object's top level in the order written, repeats kept (JSON.parse keeps only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('gateway semantics a client relies on', () => {
  let cluster: ClusterHandle;
  let dir: string;

  before(async () => {
    dir = await tempClusterDir();
    const path = join(dir, 'notes.config.ts');
    await writeFile(path, config());
    cluster = await startCluster({ nodes: 1, dir, port: await freePortBase(1), config: path });
  });
  after(async () => {
    await cluster?.stop();
    await removeDir(dir);
  });

  it('answers a handler bug with INTERNAL, a generic message and an error id the node log has with the message and stack', async () => {
    const answer = await callGateway(cluster.gatewayUrl, 'notes', 'broken');
    assert.equal(answer.status, 500);
    const error = (answer.body as { error: { code: string; message: string; details: { errorId: string } } }).error;
    assert.equal(error.code, 'INTERNAL');
    assert.doesNotMatch(JSON.stringify(answer.body), /10\.0\.0\.7|hunter2|ECONNREFUSED/);
    assert.match(error.details.errorId, /^[0-9a-f]{12}$/);
    assert.ok(error.message.includes(error.details.errorId));
    assert.equal(answer.node, 'node-1', 'the answer names the node that failed');

    const line = await eventually(async () => {
      const text = await readFile(join(dir, 'logs', 'node-1.log'), 'utf8');
      return text.split('\n').find((l) => l.includes(error.details.errorId) && l.includes('ECONNREFUSED'));
    }, { message: 'the node log line with the error id' });
    const record = JSON.parse(line) as { errorId: string; err: string; stack?: string; level: number };
    assert.equal(record.errorId, error.details.errorId);
    assert.match(record.err, /10\.0\.0\.7:5432/);
    assert.match(record.stack ?? '', /notes\.config\.ts/);
  });

  it('serves GET only for idempotent actions: 405 with Allow: POST for the rest, and nothing changes', async () => {
    const before = (await callGateway(cluster.gatewayUrl, 'notes', 'count', {}, { method: 'GET' })).body as { count: number };
    const viaGet = await callGateway(cluster.gatewayUrl, 'notes', 'add', { text: 'by link' }, { method: 'GET' });
    assert.equal(viaGet.status, 405);
    const raw = await fetch(`${cluster.gatewayUrl}/api/v1/notes/add?text=x`);
    assert.equal(raw.headers.get('allow'), 'POST');
    const after = (await callGateway(cluster.gatewayUrl, 'notes', 'count', {}, { method: 'GET' })).body as { count: number };
    assert.equal(after.count, before.count, 'the GET created nothing');
    const viaPost = await callGateway(cluster.gatewayUrl, 'notes', 'add', { text: 'by post' });
    assert.equal(viaPost.status, 200, viaPost.error);
  });

  it('lists in OpenAPI only the methods it serves', async () => {
    const doc = (await (await fetch(`${cluster.gatewayUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(doc.paths['/api/v1/notes/add']), ['post']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/notes/count']).sort(), ['get', 'post']);
  });

  it('names the node on a 4xx answered by a node, and on none that no node gave', async () => {
    const invalid = await callGateway(cluster.gatewayUrl, 'notes', 'add', { text: '' });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.node, 'node-1');
    const unknown = await callGateway(cluster.gatewayUrl, 'nosuch', 'thing');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.node, null, 'no node was reached');
  });

  it('writes only JSON lines to every log file, each key once', async () => {
    for (const file of await readdir(join(dir, 'logs'))) {
      const lines = (await readFile(join(dir, 'logs', file), 'utf8')).split('\n').filter((l) => l !== '');
      assert.ok(lines.length > 0, file);
      for (const l of lines) {
        assert.doesNotThrow(() => JSON.parse(l), `${file}: ${l.slice(0, 120)}`);
        const keys = topLevelKeys(l);
        assert.equal(new Set(keys).size, keys.length, `${file} repeats a key: ${l.slice(0, 200)}`);
      }
    }
  });
});
