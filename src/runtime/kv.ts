import type { Coordinator } from '../control/index.ts';
import type { KeyValueStore } from '../core/index.ts';

/** Application keys live under their own prefix so they never collide with the cluster's. */
const appPrefix = 'app/';

export function coordinatorKeyValue(coordinator: Coordinator): KeyValueStore {
  return {
    async get(key) {
      const entry = await coordinator.get(appPrefix + key);
      return entry && { value: entry.value, version: entry.version };
    },
    async put(key, value, options) {
      const entry = await coordinator.put(appPrefix + key, value, options?.expectVersion === undefined ? {} : { expectVersion: options.expectVersion });
      return { value: entry.value, version: entry.version };
    },
    delete(key) {
      return coordinator.delete(appPrefix + key);
    },
    async list(prefix) {
      const { entries } = await coordinator.list(appPrefix + prefix);
      return entries.map((e) => ({ key: e.key.slice(appPrefix.length), value: e.value, version: e.version }));
    },
  };
}
