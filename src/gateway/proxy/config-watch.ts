import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const DEBOUNCE_MS = 200;

/**
 * Calls `onChange` after the config file changes (debounced, since editors write in several
 * steps) or the process gets SIGHUP. The directory is watched rather than the file, because
 * editors and deploy tools often replace the file, which ends a watch on the file itself.
 * Returns a function that stops watching.
 */
export function watchConfig(path: string | undefined, onChange: (why: 'file' | 'signal') => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const onSignal = (): void => onChange('signal');
  process.on('SIGHUP', onSignal);
  if (path !== undefined) {
    const file = resolve(path);
    const name = basename(file);
    try {
      watcher = watch(dirname(file), (_event, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(timer);
        timer = setTimeout(() => onChange('file'), DEBOUNCE_MS);
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // No file watching on this system: SIGHUP still reloads.
    }
  }
  return () => {
    process.off('SIGHUP', onSignal);
    clearTimeout(timer);
    watcher?.close();
  };
}
