/**
 * Helpers for load balancer tests: upstream servers (in this process or in a child that can be
 * killed), a `shoal lb` child process, and HTTP clients with a bounded load loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lbEntry = fileURLToPath(new URL('./lb-cli.ts', import.meta.url));
const upstreamEntry = fileURLToPath(new URL('./lb-upstream-child.ts', import.meta.url));

export interface TestUpstream {
  name: string;
  port: number;
  url: string;
  server: Server;
  /** TCP connections accepted so far. */
  connections: number;
  requests: number;
  /** Headers of the last request. */
  lastHeaders: IncomingHttpHeaders | undefined;
  /** Closes every connection at once, as a crash would. */
  destroy(): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, upstream: TestUpstream) => void;

const defaultHandler: Handler = (req, res, upstream) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': upstream.name });
    res.end(upstream.name);
  });
};

/** An upstream HTTP server on 127.0.0.1 in this process. */
export async function startUpstream(name: string, handler: Handler = defaultHandler, port = 0): Promise<TestUpstream> {
  const sockets = new Set<Socket>();
  const server = createServer();
  const upstream: TestUpstream = {
    name,
    port: 0,
    url: '',
    server,
    connections: 0,
    requests: 0,
    lastHeaders: undefined,
    async destroy() {
      for (const socket of sockets) socket.destroy();
      server.close();
      if (server.listening) await once(server, 'close');
    },
    async close() {
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('connection', (socket: Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    upstream.requests++;
    upstream.lastHeaders = req.headers;
    handler(req, res, upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  upstream.port = (server.address() as AddressInfo).port;
  upstream.url = `http://127.0.0.1:${upstream.port}`;
  return upstream;
}

export interface ChildUpstream {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** An upstream server in a child process (answers with its name; /healthz → 200). */
export async function startChildUpstream(name: string, port = 0): Promise<ChildUpstream> {
  const child = spawn(process.execPath, [upstreamEntry, name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const actual = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /ready (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`upstream ${name} exited with ${code}`)));
  });
  return {
    name,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    child,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

/** A port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface LbProcess {
  child: ChildProcess;
  /** Listener URLs in config order. */
  urls: string[];
  adminUrl: string | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves once `pattern` appears on stderr (or rejects after timeoutMs). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `shoal lb` with these arguments and waits until it prints its listeners. */
export async function startLb(args: string[], options: { listeners?: number } = {}): Promise<LbProcess> {
  const child = spawn(process.execPath, [lbEntry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const expected = options.listeners ?? 1;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shoal lb did not start:\n${out}\n${err}`)), 20_000);
    const check = (): void => {
      if ((out.match(/listening on /g) ?? []).length >= expected) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shoal lb exited with ${code}:\n${out}\n${err}`));
    });
  });
  child.removeAllListeners('exit');
  const urls = [...out.matchAll(/listening on (http:\/\/\S+)/g)].map((match) => match[1]);
  const admin = /admin on (http:\/\/\S+)\/metrics/.exec(out)?.[1];
  return {
    child,
    urls,
    adminUrl: admin,
    stdout: () => out,
    stderr: () => err,
    waitForStderr(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          if (pattern.test(err)) {
            clearInterval(poll);
            resolve();
          } else if (Date.now() - started > timeoutMs) {
            clearInterval(poll);
            reject(new Error(`stderr never matched ${pattern}:\n${err}`));
          }
        }, 50);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** A config file in a fresh temporary directory; `remove` deletes the directory. */
export async function tempConfig(yaml: string): Promise<{ path: string; write(text: string): Promise<void>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-lb-'));
  const path = join(dir, 'lb.yaml');
  await writeFile(path, yaml);
  return { path, write: (text) => writeFile(path, text), remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  agent?: Agent | false;
  localAddress?: string;
  timeoutMs?: number;
}

/** One HTTP request; rejects on a connection error. */
export function send(url: string, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent, localAddress: options.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface LoadResult {
  ok: number;
  errors: string[];
  /** Requests answered, by the x-upstream header. */
  byUpstream: Map<string, number>;
}

/**
 * GETs `url` from `concurrency` keep-alive clients for `durationMs`; records each answer's
 * upstream and every failure (a status other than 200 counts as one).
 */
export async function steadyLoad(url: string, durationMs: number, concurrency: number, onTick?: (elapsedMs: number) => void): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, errors: [], byUpstream: new Map() };
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (Date.now() - started < durationMs) {
      try {
        const reply = await send(url, { agent });
        if (reply.status !== 200) result.errors.push(`status ${reply.status}: ${reply.body}`);
        else result.ok++;
        const upstream = String(reply.headers['x-upstream'] ?? '?');
        result.byUpstream.set(upstream, (result.byUpstream.get(upstream) ?? 0) + 1);
      } catch (err) {
        result.errors.push((err as Error).message);
      }
      onTick?.(Date.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

