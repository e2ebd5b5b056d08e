/**
 * Real network faults for tests: a Linux bridge with N network namespaces on it, each with its
 * own address, so processes started inside them talk over real TCP/IP that a test can cut,
 * partition, slow down and make lossy — the kernel drops the packets, not a wrapper in Shoal.
 *
 * Layout of one run (S: a /24 claimed for the run, i: 1..N):
 *   bridge  sh-<pid>-<seq>b   10.77.S.1/24, owned by the root namespace (so processes outside
 *                             the namespaces, e.g. a control process, are reachable there)
 *   host i  netns sh-<pid>-<seq>n<i>, interface eth0 = 10.77.S.(i+1)/24, loopback up, no
 *           default route: nothing sent inside one can leave the machine
 *
 * Faults are iptables DROP rules inside the namespaces (two chains of their own, SHOAL-IN and
 * SHOAL-OUT) and netem qdiscs on eth0. Everything is removed on close(), on process exit (best
 * effort: SIGKILL leaves it), and a later run sweeps the leftovers of dead runs at its start.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { claimSubnet, killNamespacePids, nextRunId, releaseSubnet, ruleComment, sweepLeftovers } from './netns-leftovers.ts';
import { hasCommand, mustShell, shell, shellSync, ShellError, type ShellResult } from './netns-shell.ts';

/** One namespace on the bridge. */
export interface NetnsHost {
  /** 1-based position: host 1 has address .2. */
  readonly index: number;
  /** The namespace's name, for `ip netns exec`. */
  readonly name: string;
  /** Its IPv4 address on the bridge. */
  readonly address: string;
  /** Its end of the veth pair, inside the namespace. */
  readonly device: string;
  /** The other end, on the bridge in the root namespace. */
  readonly bridgePort: string;
}

export interface TestNetworkOptions {
  /** How many namespaces (1 to 200). */
  hosts: number;
}

/** What netem does to everything a namespace sends. */
export interface Impairment {
  delayMs?: number;
  /** Random variation around delayMs (needs delayMs). */
  jitterMs?: number;
  lossPercent?: number;
}

/** The test range; the root namespace gets an unreachable route for it, see #guardRange. */
const TEST_RANGE = '10.77.0.0/16';
const DEVICE = 'eth0';

/**
 * Why namespace tests cannot run here, or undefined when they can. Under CI (env `CI` set) a
 * reason is an error instead: CI installs the tools and runs as root, so a skip there would
 * hide a broken setup.
 */
export async function netnsSkipReason(): Promise<string | undefined> {
  const reason = await missingSupport();
  if (reason !== undefined && process.env.CI) throw new Error(`network namespace tests must run in CI, but: ${reason}`);
  return reason;
}

async function missingSupport(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces, bridges and iptables need root';
  for (const [command, args, pkg] of [['ip', ['-V'], 'iproute2'], ['tc', ['-V'], 'iproute2'], ['iptables', ['-V'], 'iptables']] as const) {
    if (!hasCommand(command, args)) return `${command} is not installed (apt-get install ${pkg})`;
  }
  const probe = `${nextRunId()}n0`;
  const added = await shell('ip', ['netns', 'add', probe]);
  if (added.code !== 0) return `cannot create a network namespace: ${added.stderr.trim()}`;
  await shell('ip', ['netns', 'delete', probe]);
  return undefined;
}

export class TestNetwork {
  readonly runId: string;
  readonly bridge: string;
  /** The root namespace's address on the bridge: what the namespaces reach it at. */
  readonly bridgeAddress: string;
  readonly hosts: readonly NetnsHost[];
  readonly #subnet: number;
  readonly #children = new Set<ChildProcess>();
  /** loseRandomly's percentage per namespace, to delete exactly the rule it added. */
  readonly #lossOf = new Map<string, number>();
  readonly #onExit = () => this.#closeSync();
  #netem: Promise<string | undefined> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(runId: string, subnet: number, count: number) {
    this.runId = runId;
    this.#subnet = subnet;
    this.bridge = `${runId}b`;
    this.bridgeAddress = `10.77.${subnet}.1`;
    this.hosts = Array.from({ length: count }, (_, k) => ({
      index: k + 1,
      name: `${runId}n${k + 1}`,
      address: `10.77.${subnet}.${k + 2}`,
      device: DEVICE,
      bridgePort: `${runId}v${k + 1}`,
    }));
  }

  /** Sweeps dead runs' leftovers, then builds the bridge and the namespaces. */
  static async create(options: TestNetworkOptions): Promise<TestNetwork> {
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 200) throw new RangeError(`hosts must be 1 to 200, got ${options.hosts}`);
    await sweepLeftovers();
    await guardRange();
    const runId = nextRunId();
    const addresses = await mustShell('ip', ['-o', '-4', 'addr', 'show']);
    const subnet = claimSubnet(runId, (third) => addresses.includes(` 10.77.${third}.`));
    const network = new TestNetwork(runId, subnet, options.hosts);
    process.once('exit', network.#onExit);
    try {
      await network.#build();
    } catch (err) {
      await network.close();
      throw err;
    }
    return network;
  }

  /** Host `index` (1-based). */
  host(index: number): NetnsHost {
    const host = this.hosts[index - 1];
    if (!host) throw new RangeError(`no host ${index} (this network has ${this.hosts.length})`);
    return host;
  }

  /** The command prefix that runs a program inside `host`: `[...prefix, program, ...args]`. */
  execPrefix(host: NetnsHost): string[] {
    return ['ip', 'netns', 'exec', host.name];
  }

  /** Starts `command` inside `host`; close() kills it if it still runs. */
  spawn(host: NetnsHost, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', host.name, command, ...args], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Runs `command` inside `host` to its end. */
  exec(host: NetnsHost, command: string, args: readonly string[] = []): Promise<ShellResult> {
    return shell('ip', ['netns', 'exec', host.name, command, ...args]);
  }

  /** Drops every packet between `a` and `b`, both ways; connections between them stall, new ones time out. */
  async cut(a: NetnsHost, b: NetnsHost): Promise<void> {
    await this.#rule(a, 'add', peerRules(b.address));
    await this.#rule(b, 'add', peerRules(a.address));
  }

  /** Undoes cut(a, b). */
  async heal(a: NetnsHost, b: NetnsHost): Promise<void> {
    await this.#rule(a, 'delete', peerRules(b.address));
    await this.#rule(b, 'delete', peerRules(a.address));
  }

  /** Isolates `host` from everyone, the root namespace included; its loopback keeps working. */
  async partition(host: NetnsHost): Promise<void> {
    await this.#rule(host, 'add', ISOLATION_RULES);
  }

  /** Undoes partition(host); cuts made with cut() stay. */
  async rejoin(host: NetnsHost): Promise<void> {
    await this.#rule(host, 'delete', ISOLATION_RULES);
  }

  /** Removes every cut, partition, random loss and netem impairment. */
  async healAll(): Promise<void> {
    for (const host of this.hosts) {
      for (const chain of ['SHOAL-IN', 'SHOAL-OUT']) await this.#iptables(host, ['-F', chain]);
      await this.clearImpairment(host);
    }
  }

  /**
   * Why netem cannot be used here (the kernel lacks the netem qdisc: CONFIG_NET_SCH_NETEM),
   * or undefined when it can. A kernel feature, not an install step: tests skip on it even in CI.
   */
  netemSkipReason(): Promise<string | undefined> {
    this.#netem ??= (async () => {
      const host = this.host(1);
      const added = await this.exec(host, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      if (added.code !== 0) return `this kernel has no netem qdisc (tc: ${added.stderr.trim()})`;
      await this.exec(host, 'tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
      return undefined;
    })();
    return this.#netem;
  }

  /** Delays and/or loses what `host` sends on its bridge interface (tc netem); replaces an earlier impairment. */
  async impair(host: NetnsHost, impairment: Impairment): Promise<void> {
    const args = ['qdisc', 'replace', 'dev', host.device, 'root', 'netem'];
    if (impairment.delayMs !== undefined) {
      args.push('delay', `${impairment.delayMs}ms`);
      if (impairment.jitterMs !== undefined) args.push(`${impairment.jitterMs}ms`);
    } else if (impairment.jitterMs !== undefined) {
      throw new RangeError('jitterMs needs delayMs');
    }
    if (impairment.lossPercent !== undefined) args.push('loss', `${impairment.lossPercent}%`);
    await this.#must(host, 'tc', args);
  }

  /** Removes impair(host) and loseRandomly(host); a no-op when there is none. */
  async clearImpairment(host: NetnsHost): Promise<void> {
    await this.exec(host, 'tc', ['qdisc', 'del', 'dev', host.device, 'root']);
    const loss = this.#lossOf.get(host.name);
    if (loss !== undefined) await this.#iptables(host, ['-D', 'SHOAL-OUT', ...randomLossRule(loss)]);
    this.#lossOf.delete(host.name);
  }

  /**
   * Drops `percent` of the packets `host` sends, chosen at random by the firewall. Unlike
   * netem it needs no qdisc, so it works on kernels without one; it adds no delay.
   */
  async loseRandomly(host: NetnsHost, percent: number): Promise<void> {
    if (!(percent > 0 && percent <= 100)) throw new RangeError(`percent must be in (0, 100], got ${percent}`);
    const previous = this.#lossOf.get(host.name);
    if (previous !== undefined) await this.#iptables(host, ['-D', 'SHOAL-OUT', ...randomLossRule(previous)]);
    await this.#mustIptables(host, ['-A', 'SHOAL-OUT', ...randomLossRule(percent)]);
    this.#lossOf.set(host.name, percent);
  }

  /** Kills what still runs in the namespaces, then removes them, the bridge and the root firewall rules; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      process.removeListener('exit', this.#onExit);
      for (const child of this.#children) child.kill('SIGKILL');
      for (const host of this.hosts) {
        await killNamespacePids(host.name);
        await shell('ip', ['netns', 'delete', host.name]);
        await shell('ip', ['link', 'delete', host.bridgePort]);
      }
      await shell('ip', ['link', 'delete', this.bridge]);
      for (const rule of this.#rootRules()) await shell('iptables', ['-w', '-D', ...rule]);
      releaseSubnet(this.#subnet, this.runId);
    })();
    return this.#closing;
  }

  /** close() for an 'exit' handler, which cannot wait for anything asynchronous. */
  #closeSync(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    for (const host of this.hosts) {
      const pids = shellSync('ip', ['netns', 'pids', host.name]).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      shellSync('ip', ['netns', 'delete', host.name]);
    }
    shellSync('ip', ['link', 'delete', this.bridge]);
    for (const rule of this.#rootRules()) shellSync('iptables', ['-w', '-D', ...rule]);
    releaseSubnet(this.#subnet, this.runId);
  }

  async #build(): Promise<void> {
    await mustShell('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await mustShell('ip', ['addr', 'add', `${this.bridgeAddress}/24`, 'dev', this.bridge]);
    await mustShell('ip', ['link', 'set', this.bridge, 'up']);
    // Bridged frames pass the root namespace's iptables (br_netfilter): a machine whose
    // FORWARD or INPUT policy drops would otherwise cut the test network before any fault.
    for (const rule of this.#rootRules()) await mustShell('iptables', ['-w', '-I', ...rule.slice(0, 1), '1', ...rule.slice(1)]);
    for (const host of this.hosts) {
      const peer = `${this.runId}p${host.index}`;
      await mustShell('ip', ['netns', 'add', host.name]);
      await mustShell('ip', ['link', 'add', host.bridgePort, 'type', 'veth', 'peer', 'name', peer]);
      await mustShell('ip', ['link', 'set', peer, 'netns', host.name]);
      await mustShell('ip', ['-n', host.name, 'link', 'set', peer, 'name', host.device]);
      await mustShell('ip', ['-n', host.name, 'addr', 'add', `${host.address}/24`, 'dev', host.device]);
      await mustShell('ip', ['-n', host.name, 'link', 'set', host.device, 'up']);
      await mustShell('ip', ['-n', host.name, 'link', 'set', 'lo', 'up']);
      await mustShell('ip', ['link', 'set', host.bridgePort, 'master', this.bridge]);
      await mustShell('ip', ['link', 'set', host.bridgePort, 'up']);
      for (const [chain, hook] of [['SHOAL-IN', 'INPUT'], ['SHOAL-OUT', 'OUTPUT']]) {
        await this.#mustIptables(host, ['-N', chain]);
        await this.#mustIptables(host, ['-A', hook, '-j', chain]);
      }
    }
  }

  /** The root namespace's rules for this run, as `CHAIN spec…` (insert or delete them). */
  #rootRules(): string[][] {
    const comment = ['-m', 'comment', '--comment', ruleComment(this.runId)];
    return [
      ['FORWARD', '-i', this.bridge, '-o', this.bridge, ...comment, '-j', 'ACCEPT'],
      ['INPUT', '-i', this.bridge, ...comment, '-j', 'ACCEPT'],
    ];
  }

  /** Adds each rule that is not there yet, or deletes each that is: both are idempotent. */
  async #rule(host: NetnsHost, action: 'add' | 'delete', rules: readonly (readonly string[])[]): Promise<void> {
    for (const rule of rules) {
      const present = (await this.#iptables(host, ['-C', ...rule])).code === 0;
      if (action === 'add' && !present) await this.#mustIptables(host, ['-A', ...rule]);
      if (action === 'delete' && present) await this.#mustIptables(host, ['-D', ...rule]);
    }
  }

  #iptables(host: NetnsHost, args: readonly string[]): Promise<ShellResult> {
    // -w: the xtables lock is one file for every namespace; parallel runs wait for it.
    return this.exec(host, 'iptables', ['-w', ...args]);
  }

  async #mustIptables(host: NetnsHost, args: readonly string[]): Promise<void> {
    await this.#must(host, 'iptables', ['-w', ...args]);
  }

  async #must(host: NetnsHost, command: string, args: readonly string[]): Promise<void> {
    const result = await this.exec(host, command, args);
    if (result.code !== 0) throw new ShellError(['ip', 'netns', 'exec', host.name, command, ...args], result);
  }
}

const ISOLATION_RULES = [
  ['SHOAL-IN', '!', '-i', 'lo', '-j', 'DROP'],
  ['SHOAL-OUT', '!', '-o', 'lo', '-j', 'DROP'],
] as const;

function peerRules(address: string): string[][] {
  return [
    ['SHOAL-IN', '-s', address, '-j', 'DROP'],
    ['SHOAL-OUT', '-d', address, '-j', 'DROP'],
  ];
}

function randomLossRule(percent: number): string[] {
  return ['-m', 'statistic', '--mode', 'random', '--probability', String(percent / 100), '-j', 'DROP'];
}

/**
 * An unreachable route for the whole test range in the root namespace, below the bridges'
 * own /24s: a packet for a namespace that is already gone fails at once instead of following
 * the default route off the machine. It is left in place on close: it only ever refuses.
 */
async function guardRange(): Promise<void> {
  const present = await mustShell('ip', ['route', 'show', 'type', 'unreachable', TEST_RANGE]);
  if (present.trim() !== '') return;
  const added = await shell('ip', ['route', 'add', 'unreachable', TEST_RANGE]);
  if (added.code !== 0 && !/File exists/.test(added.stderr)) throw new ShellError(['ip', 'route', 'add', 'unreachable', TEST_RANGE], added);
}
