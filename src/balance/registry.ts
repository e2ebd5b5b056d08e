import type { Strategy, StrategyFactory } from './index.ts';
import { consistentHash } from './consistent-hash.ts';
import { ipHash } from './ip-hash.ts';
import { leastOutstanding } from './least-outstanding.ts';
import { maglev } from './maglev.ts';
import { peakEwma } from './peak-ewma.ts';
import { powerOfTwoChoices } from './power-of-two.ts';
import { random, weightedRandom } from './random.ts';
import { roundRobin } from './round-robin.ts';
import { smoothWeightedRoundRobin } from './weighted-round-robin.ts';

/** The strategies selectable by name in configuration, each with its default options. */
export const builtinStrategies: Readonly<Record<string, StrategyFactory>> = Object.freeze({
  'round-robin': () => roundRobin(),
  'weighted-round-robin': () => smoothWeightedRoundRobin(),
  random: () => random(),
  'weighted-random': () => weightedRandom(),
  'least-conn': () => leastOutstanding(),
  'least-outstanding': () => leastOutstanding(),
  p2c: () => powerOfTwoChoices(),
  'peak-ewma': () => peakEwma(),
  'ip-hash': () => ipHash(),
  'consistent-hash': () => consistentHash(),
  maglev: () => maglev(),
});

/**
 * A fresh strategy by name; `extra` adds strategies (from plugins) and may replace a built-in.
 * An unknown name throws, listing the names that are known.
 */
export function createStrategy(name: string, extra?: Record<string, StrategyFactory>): Strategy {
  const factory =
    extra !== undefined && Object.hasOwn(extra, name)
      ? extra[name]
      : Object.hasOwn(builtinStrategies, name)
        ? builtinStrategies[name]
        : undefined;
  if (factory === undefined) {
    const known = [...new Set([...Object.keys(builtinStrategies), ...Object.keys(extra ?? {})])].sort();
    throw new Error(`Unknown balancing strategy "${name}"; known strategies: ${known.join(', ')}`);
  }
  return factory();
}
