import assert from 'node:assert/strict';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { send, startLb, startUpstream, tempConfig, type LbProcess, type TestUpstream } from '../support/lb-harness.ts';
import { eventually } from '../support/eventually.ts';

/** Requests to /slow wait here until the test releases them. */
let waiting: (() => void)[] = [];
const inFlight = new Map<string, number>();

function configText(port: number, servers: TestUpstream[], algorithm = 'round-robin'): string {
  return `accessLog: false
listeners:
  - address: 127.0.0.1:${port}
    backend: web
backends:
  web:
    algorithm: ${algorithm}
    drainTimeout: 20s
    servers:
${servers.map((u) => `      - url: ${u.url}`).join('\n')}
`;
}

describe('shoal lb reloads its config without losing requests', () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let lb: LbProcess;
  let config: Awaited<ReturnType<typeof tempConfig>>;
  let port: number;

  before(async () => {
    const handler = (req: IncomingMessage, res: ServerResponse, upstream: TestUpstream): void => {
      req.resume();
      const answer = (): void => {
        res.writeHead(200, { 'x-upstream': upstream.name });
        res.end(upstream.name);
      };
      if (req.url !== '/slow') return answer();
      inFlight.set(upstream.name, (inFlight.get(upstream.name) ?? 0) + 1);
      waiting.push(() => {
        inFlight.set(upstream.name, inFlight.get(upstream.name)! - 1);
        answer();
      });
    };
    a = await startUpstream('a', handler);
    b = await startUpstream('b', handler);
    config = await tempConfig(configText(0, [a, b]));
    lb = await startLb(['--config', config.path]);
    port = Number(new URL(lb.urls[0]).port);
    // From here on the file names the actual port, so reloads keep the same listener.
    await config.write(configText(port, [a, b]));
    await lb.waitForStderr(/configuration applied/);
  });
  after(async () => {
    for (const release of waiting) release();
    await lb?.stop();
    await a?.close();
    await b?.close();
    await config?.remove();
  });

  it('lets requests in flight on a removed server finish, and keeps client connections open', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await send(`${lb.urls[0]}/quick`, { agent });
    assert.equal(before.status, 200);
    const clientSocket = Object.values(agent.freeSockets).flat()[0];
    assert.ok(clientSocket, 'the client keeps its connection');

    const slow = Array.from({ length: 6 }, () => send(`${lb.urls[0]}/slow`));
    await eventually(() => inFlight.get('b') === 3 && inFlight.get('a') === 3, { message: 'slow requests reach both servers', timeoutMs: 15_000, intervalMs: 50 });

    const applied = (lb.stderr().match(/configuration applied/g) ?? []).length;
    await config.write(configText(port, [a]));
    await eventually(() => (lb.stderr().match(/configuration applied/g) ?? []).length > applied, { message: 'the reload is applied', timeoutMs: 15_000, intervalMs: 50 });
    assert.match(lb.stderr(), /draining upstream/);

    for (let i = 0; i < 6; i++) {
      const reply = await send(`${lb.urls[0]}/quick`, { agent });
      assert.equal(reply.body, 'a', 'new requests go to the remaining server only');
    }
    assert.deepEqual(Object.values(agent.freeSockets).flat(), [clientSocket], 'the client connection opened before the reload still carries requests');
    agent.destroy();

    const pending = waiting;
    waiting = [];
    for (const release of pending) release();
    const replies = await Promise.all(slow);
    assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(replies.map((reply) => reply.body).sort(), ['a', 'a', 'a', 'b', 'b', 'b']);
    await lb.waitForStderr(/upstream drained/);
  });

  it('rejects an invalid config naming its line, and keeps serving with the old one', async () => {
    const broken = configText(port, [a, b], 'fastest-please');
    const line = broken.split('\n').findIndex((text) => text.includes('fastest-please')) + 1;
    await config.write(broken);
    await lb.waitForStderr(new RegExp(`config rejected[^\\n]*lb\\.yaml:${line}:\\d+: backends\\.web\\.algorithm`));
    for (let i = 0; i < 4; i++) {
      const reply = await send(`${lb.urls[0]}/quick`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'a', 'the old config (a only) is still in force');
    }
  });

  it('reloads on SIGHUP', async () => {
    await config.write(configText(port, [a, b]));
    await eventually(async () => (await send(`${lb.urls[0]}/quick`)).body === 'b', { message: 'b is back after the file change', timeoutMs: 15_000, intervalMs: 50 });
    const reloads = (lb.stderr().match(/"why":"signal"/g) ?? []).length;
    lb.child.kill('SIGHUP');
    await eventually(() => (lb.stderr().match(/"why":"signal"/g) ?? []).length > reloads, { message: 'SIGHUP reloads', timeoutMs: 15_000, intervalMs: 50 });
    assert.equal((await send(`${lb.urls[0]}/quick`)).status, 200);
  });
});
