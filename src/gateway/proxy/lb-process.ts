/** What the single-process and the multi-worker runs of the balancer share. */
import type { Writable } from 'node:stream';
import type { Logger } from '../../core/index.ts';
import { ConfigError, loadConfigFile } from './config-load.ts';
import type { LbConfig } from './config-schema.ts';
import type { ListenerAddress } from './load-balancer.ts';

export interface LbRunOptions {
  config: LbConfig;
  /** The file the config came from; reloads read it again. Absent for the flag form. */
  configPath?: string;
  /** `--no-access-log`: overrides the file's setting, on every reload too. */
  accessLog?: boolean;
  /** Where the listening addresses are printed; stdout when absent. */
  out?: Writable;
  /** How long shutdown waits for requests in flight (default 30 s). */
  shutdownTimeoutMs?: number;
}

export function withOverrides(config: LbConfig, options: Pick<LbRunOptions, 'accessLog'>): LbConfig {
  return options.accessLog === undefined ? config : { ...config, accessLog: options.accessLog };
}

/**
 * Reads the config file again for a reload; an invalid one is logged with its lines and
 * undefined is returned, so the running config stays.
 */
export async function rereadConfig(options: LbRunOptions, logger: Logger): Promise<LbConfig | undefined> {
  if (options.configPath === undefined) return undefined;
  try {
    return withOverrides(await loadConfigFile(options.configPath), options);
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : undefined;
    logger.error({ err: err instanceof Error ? err.message : String(err), problems }, `config rejected, the running one stays: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

export function printAddresses(out: Writable, addresses: readonly ListenerAddress[], admin: string | undefined): void {
  let text = '';
  for (const address of addresses) text += `shoal lb: listening on ${address.url} (${address.name} → backend ${address.backend})\n`;
  if (admin !== undefined) text += `shoal lb: admin on ${admin}/metrics\n`;
  out.write(text);
}

/** Resolves with the signal's name at the first SIGTERM or SIGINT. */
export function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Changes a running config cannot take, named so the operator knows a restart is needed. */
export function restartOnlyChanges(running: LbConfig, next: LbConfig): string[] {
  const changed: string[] = [];
  if (JSON.stringify(running.admin) !== JSON.stringify(next.admin)) changed.push('admin');
  if (running.workers !== next.workers) changed.push('workers');
  return changed;
}
