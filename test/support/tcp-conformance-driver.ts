/**
 * The TCP driver as the Transport conformance suite wants it, on loopback: optionally wrapped
 * (as withFaults wraps it), in this process and in a peer process the suite can kill.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { silentLogger } from '../../src/core/index.ts';
import type { Transport } from '../../src/transport/index.ts';
import { createTcpTransport } from '../../src/transport/tcp/index.ts';
import type { SpawnedPeer, TransportDriver } from '../conformance/transport-suite.ts';
import { eventually } from './eventually.ts';

const HOST = '127.0.0.1';
const SECRET = 'conformance-secret';

/** How a driver under test is wrapped: the expression for the peer process, and the function here. */
export interface TransportWrapper {
  /** Module URL and code that turn `t` into the wrapped transport in the peer process. */
  peerImport: string;
  peerWrap: string;
  wrap(transport: Transport): Transport;
}

/** A port the kernel just handed out and took back, so nothing listens on it. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, HOST);
  await once(probe, 'listening');
  const address = probe.address();
  if (address === null || typeof address !== 'object') throw new Error('probe server has no address');
  probe.close();
  await once(probe, 'close');
  return address.port;
}

async function spawnPeer(nodeId: string, wrapper: TransportWrapper | undefined): Promise<SpawnedPeer> {
  const entry = new URL('../../src/transport/tcp/index.ts', import.meta.url).href;
  const script = `
    import { createTcpTransport } from ${JSON.stringify(entry)};
    ${wrapper?.peerImport ?? ''}
    const t = ${wrapper ? wrapper.peerWrap.replace('$T', `createTcpTransport({ nodeId: ${JSON.stringify(nodeId)}, secret: ${JSON.stringify(SECRET)} })`) : `createTcpTransport({ nodeId: ${JSON.stringify(nodeId)}, secret: ${JSON.stringify(SECRET)} })`};
    t.onRequest(() => { process.stdout.write('received\\n'); return new Promise(() => {}); });
    const address = await t.listen({ host: ${JSON.stringify(HOST)}, port: 0 });
    process.stdout.write('port ' + address.port + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    output += text;
  });
  const exited = once(child, 'exit');
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const port = await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode}: ${output}`);
        return Number(/port (\d+)\n/.exec(output)?.[1]);
      },
      { message: 'the spawned peer to print its port', timeoutMs: 20_000 },
    );
    return { address: { host: HOST, port }, received: () => output.split('received\n').length - 1, kill };
  } catch (err) {
    await kill();
    throw err;
  }
}

export function tcpConformanceDriver(wrapper?: TransportWrapper): TransportDriver {
  const wrap = wrapper?.wrap ?? ((t: Transport) => t);
  return {
    listenAddress: { host: HOST, port: 0 },
    remoteAddressPattern: /^127\.0\.0\.1:\d+$/,
    create: (nodeId, options = {}) => wrap(createTcpTransport({ nodeId, secret: SECRET, logger: silentLogger, ...options })),
    createIntruder: (nodeId) => wrap(createTcpTransport({ nodeId, secret: 'wrong', logger: silentLogger })),
    unreachableAddress: async () => ({ host: HOST, port: await freePort() }),
    spawnPeer: (nodeId) => spawnPeer(nodeId, wrapper),
    async sendGarbage(address) {
      const socket = connect({ host: address.host, port: address.port });
      socket.on('error', () => {});
      // Flowing, so the server's hello is consumed and its close is seen.
      socket.resume();
      // A length prefix of 3, then bytes that are no msgpack value.
      socket.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
      await once(socket, 'close');
    },
  };
}
