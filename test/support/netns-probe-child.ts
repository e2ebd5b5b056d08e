/**
 * Small network programs a namespace test runs inside a namespace (`ip netns exec NS node …`).
 * Each prints JSON lines on stdout:
 *   tcp-echo HOST PORT              {"listening":true} once listening, then echoes every connection
 *   tcp-ping HOST PORT TIMEOUT_MS   {"ok":true,"rttMs":N} or {"ok":false,"error":"…"}, then exits
 *   udp-echo HOST PORT              {"listening":true}, then sends every datagram back
 *   udp-burst HOST PORT COUNT       sends COUNT datagrams, prints {"sent":N,"received":M} once
 *                                   no echo came for a second (or after 20 s), then exits
 *   hold-network HOSTS              builds a TestNetwork, prints its names, and waits to be killed
 */
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { TestNetwork } from './netns.ts';

const [mode, ...rest] = process.argv.slice(2);
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

function tcpEcho(host: string, port: number): void {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.listen(port, host, () => print({ listening: true }));
}

function tcpPing(host: string, port: number, timeoutMs: number): void {
  const started = performance.now();
  const socket = connect({ host, port });
  const finish = (result: Record<string, unknown>) => {
    clearTimeout(timer);
    socket.destroy();
    print(result);
    process.exit(0);
  };
  const timer = setTimeout(() => finish({ ok: false, error: `no echo within ${timeoutMs} ms` }), timeoutMs);
  socket.on('connect', () => socket.write('ping'));
  socket.on('data', () => finish({ ok: true, rttMs: performance.now() - started }));
  socket.on('error', (err) => finish({ ok: false, error: err.message }));
}

function udpEcho(host: string, port: number): void {
  const socket = createSocket('udp4');
  socket.on('message', (message, from) => socket.send(message, from.port, from.address));
  socket.bind(port, host, () => print({ listening: true }));
}

function udpBurst(host: string, port: number, count: number): void {
  const socket = createSocket('udp4');
  const seen = new Set<string>();
  let quiet: NodeJS.Timeout | undefined;
  const finish = () => {
    print({ sent: count, received: seen.size });
    process.exit(0);
  };
  const hardStop = setTimeout(finish, 20_000);
  hardStop.unref();
  const waitForQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(finish, 1_000);
  };
  socket.on('message', (message) => {
    seen.add(message.toString());
    waitForQuiet();
  });
  let i = 0;
  // One datagram per millisecond: slow enough that no socket buffer overflows, so what is
  // missing was dropped by the rule under test.
  const tick = setInterval(() => {
    if (i >= count) {
      clearInterval(tick);
      waitForQuiet();
      return;
    }
    socket.send(String(i++), port, host);
  }, 1);
}

async function holdNetwork(hosts: number): Promise<void> {
  const network = await TestNetwork.create({ hosts });
  print({ bridge: network.bridge, namespaces: network.hosts.map((h) => h.name) });
  setInterval(() => undefined, 60_000);
}

switch (mode) {
  case 'tcp-echo':
    tcpEcho(rest[0], Number(rest[1]));
    break;
  case 'tcp-ping':
    tcpPing(rest[0], Number(rest[1]), Number(rest[2]));
    break;
  case 'udp-echo':
    udpEcho(rest[0], Number(rest[1]));
    break;
  case 'udp-burst':
    udpBurst(rest[0], Number(rest[1]), Number(rest[2]));
    break;
  case 'hold-network':
    await holdNetwork(Number(rest[0]));
    break;
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
