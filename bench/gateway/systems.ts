/**
 * The systems of the gateway suite: the two nginx upstreams, the four balancers in front of them
 * and the direct path to one upstream. Each runs as its own process group (see ../lib/external.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExternalProcess, pinnedCommand, waitForPort } from '../lib/external.ts';
import { freePort } from '../lib/ports.ts';
import { haproxyConf, nginxBalancerConf, nginxUpstreamConf, type Upstream } from './configs.ts';

export interface Tools {
  wrk: string | undefined;
  nginx: string | undefined;
  haproxy: string | undefined;
  taskset: string | undefined;
}

/** taskset CPU lists per role; undefined leaves a role unpinned. */
export interface Placement {
  balancer: string | undefined;
  upstreams: readonly [string | undefined, string | undefined];
  wrk: string | undefined;
}

export interface Context {
  /** Scratch directory for generated configs, logs and pid files. */
  dir: string;
  tools: Tools;
  placement: Placement;
  upstreams: readonly Upstream[];
}

/** A started system that wrk can load at 127.0.0.1:port. */
export interface RunningSystem {
  port: number;
  /** Undefined while it runs; why it stopped otherwise. */
  failure(): string | undefined;
  stop(): Promise<void>;
}

export interface SystemSpec {
  /** The `system` of its result rows. */
  name: string;
  /** Shown in the table. */
  label: string;
  /** Every balancer must spread over both upstreams; the direct path reaches only the first. */
  spreads: boolean;
  /** Why it cannot run on this machine, when it cannot. */
  unavailable(ctx: Context): string | undefined;
  start(ctx: Context): Promise<RunningSystem>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
export const installHint = 'apt-get install haproxy nginx wrk';

/** Starts a server process pinned to `cpus` and waits for its port; stops it again if that fails. */
async function startServer(name: string, cpus: string | undefined, ctx: Context, command: string, args: readonly string[], port: number): Promise<RunningSystem> {
  const [cmd, argv] = pinnedCommand(ctx.tools.taskset, cpus, command, args);
  const proc = new ExternalProcess({ name, command: cmd, args: argv, cwd: repoRoot });
  try {
    await waitForPort(proc, '127.0.0.1', port);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { port, failure: () => (proc.exited ? proc.describeExit() : undefined), stop: () => proc.stop() };
}

/** An nginx instance with its own prefix directory and generated nginx.conf, in the foreground. */
async function startNginx(name: string, cpus: string | undefined, ctx: Context, port: number, conf: (dir: string) => string): Promise<RunningSystem> {
  const nginx = ctx.tools.nginx;
  if (!nginx) throw new Error(`nginx is not installed (${installHint})`);
  const dir = join(ctx.dir, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf(dir));
  return startServer(name, cpus, ctx, nginx, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file, '-g', 'daemon off;'], port);
}

/** The two upstreams, each an nginx with one worker. */
export async function startUpstreams(ctx: Omit<Context, 'upstreams'>): Promise<{ upstreams: Upstream[]; running: RunningSystem[] }> {
  const upstreams: Upstream[] = [
    { name: 'u1', port: await freePort() },
    { name: 'u2', port: await freePort() },
  ];
  const running: RunningSystem[] = [];
  try {
    for (const [i, upstream] of upstreams.entries()) {
      running.push(await startNginx(`upstream-${upstream.name}`, ctx.placement.upstreams[i], { ...ctx, upstreams }, upstream.port, (dir) => nginxUpstreamConf(dir, upstream)));
    }
  } catch (err) {
    for (const r of running) await r.stop();
    throw err;
  }
  return { upstreams, running };
}

const upstreamUrls = (ctx: Context) => ctx.upstreams.map((u) => `http://127.0.0.1:${u.port}`);
const missing = (tool: string | undefined, name: string) => (tool ? undefined : `${name} is not installed: run \`${installHint}\` to include it`);

export const systems: readonly SystemSpec[] = [
  {
    name: 'haproxy',
    label: 'HAProxy 2.6',
    spreads: true,
    unavailable: (ctx) => missing(ctx.tools.haproxy, 'haproxy'),
    async start(ctx) {
      const port = await freePort();
      const file = join(ctx.dir, 'haproxy.cfg');
      writeFileSync(file, haproxyConf(port, ctx.upstreams));
      return startServer('haproxy', ctx.placement.balancer, ctx, ctx.tools.haproxy!, ['-f', file, '-db'], port);
    },
  },
  {
    name: 'nginx',
    label: 'nginx 1.22',
    spreads: true,
    unavailable: (ctx) => missing(ctx.tools.nginx, 'nginx'),
    async start(ctx) {
      const port = await freePort();
      return startNginx('nginx-balancer', ctx.placement.balancer, ctx, port, (dir) => nginxBalancerConf(dir, port, ctx.upstreams));
    },
  },
  {
    name: 'node-http-proxy',
    label: 'http-proxy 1.18 (Node)',
    spreads: true,
    unavailable: () => undefined,
    async start(ctx) {
      const port = await freePort();
      return startServer('node http-proxy', ctx.placement.balancer, ctx, process.execPath, [here('./node-proxy.ts'), String(port), ...upstreamUrls(ctx)], port);
    },
  },
  {
    name: 'shoal',
    label: 'shoal lb',
    spreads: true,
    unavailable: () => (existsSync(join(repoRoot, 'src/cli/commands/lb.ts')) ? undefined : '`shoal lb` does not exist yet (src/cli/commands/lb.ts is missing)'),
    async start(ctx) {
      const port = await freePort();
      const upstreamArgs = upstreamUrls(ctx).flatMap((url) => ['--upstream', url]);
      const args = [join(repoRoot, 'src/cli/main.ts'), 'lb', '--listen', `127.0.0.1:${port}`, ...upstreamArgs, '--algorithm', 'round-robin', '--workers', '1', '--no-access-log'];
      return startServer('shoal lb', ctx.placement.balancer, ctx, process.execPath, args, port);
    },
  },
  {
    name: 'direct',
    label: 'direct to upstream u1 (ceiling)',
    spreads: false,
    unavailable: () => undefined,
    async start(ctx) {
      // The upstream runs for the whole suite; nothing to start or stop here.
      return { port: ctx.upstreams[0].port, failure: () => undefined, stop: async () => undefined };
    },
  },
];

interface Answer {
  status: number;
  upstream: string;
  body: string;
}

function get(agent: Agent, port: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends `count` requests one after another on a keep-alive connection and checks that each is a
 * 200 with the upstream's body, and, for a balancer, that both upstreams answered. Returns the
 * upstream counts, e.g. "u1 10, u2 10"; throws when the check fails.
 */
export async function checkSpread(spec: SystemSpec, port: number, upstreams: readonly Upstream[], count = 20): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const seen = new Map<string, number>();
  try {
    for (let i = 0; i < count; i++) {
      const answer = await get(agent, port);
      if (answer.status !== 200) throw new Error(`request ${i + 1} answered ${answer.status}: ${answer.body.slice(0, 200).trim()}`);
      if (answer.body !== 'hello world\n') throw new Error(`request ${i + 1} answered an unexpected body ${JSON.stringify(answer.body.slice(0, 100))}`);
      const name = answer.upstream || '(no x-upstream header)';
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
  } finally {
    agent.destroy();
  }
  const summary = [...seen].map(([name, n]) => `${name} ${n}`).join(', ');
  const expected = spec.spreads ? upstreams.map((u) => u.name) : [upstreams[0].name];
  const absent = expected.filter((name) => !seen.has(name));
  if (absent.length > 0) throw new Error(`${absent.join(' and ')} never answered in ${count} requests (${summary})`);
  return summary;
}
