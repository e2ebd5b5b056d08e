import type { LoadResult, LoadSpec } from './load.ts';

/**
 * Messages between the bench parent and its worker processes over the IPC channel.
 * A worker says `ready` once it can serve or call; a caller worker answers each `run` with
 * `result`; `stop` asks any worker to shut down cleanly.
 */
export type ToWorker = { type: 'run'; spec: LoadSpec } | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; details?: Record<string, unknown> }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; message: string };

function send(message: FromWorker): void {
  process.send?.(message);
}

export function reportReady(details?: Record<string, unknown>): void {
  send(details ? { type: 'ready', details } : { type: 'ready' });
}

/**
 * The worker side: answers `run` with `runCase(spec)` and `stop` with `shutdown()` then exit.
 * The worker also exits when the parent goes away, so an interrupted bench leaves nothing behind.
 */
export function serveParent(options: { runCase?: (spec: LoadSpec) => Promise<LoadResult>; shutdown: () => Promise<void> }): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    options
      .shutdown()
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };
  process.on('message', (raw: ToWorker) => {
    if (raw.type === 'stop') stop();
    else if (raw.type === 'run') {
      if (!options.runCase) {
        send({ type: 'failed', message: 'this worker does not generate load' });
        return;
      }
      options.runCase(raw.spec).then(
        (result) => send({ type: 'result', result }),
        (err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
      );
    }
  });
  process.on('disconnect', stop);
}

/** Reports a failure to start, then exits: the parent prints it instead of waiting forever. */
export function failStartup(err: unknown): never {
  send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
