import type { LoadResult, LoadSpec } from './load.ts';

/**
 * Messages between the bench parent and its worker processes over the IPC channel.
 * A worker says `ready` once it can serve or call. Requests carry an id that the answer repeats:
 * `run` (a caller worker answers with `result`) and `cpu` (any worker answers with its CPU time
 * so far, so the parent can charge CPU per call to each process). `task` runs one of a worker's
 * named tasks (loading data, a query, a case with parameters) and is answered with `done` and
 * the task's JSON value. `stop` asks for a clean exit.
 */
export type ToWorker =
  | { type: 'run'; id: number; spec: LoadSpec }
  | { type: 'cpu'; id: number }
  | { type: 'task'; id: number; name: string; params: unknown }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; details?: Record<string, unknown> }
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'cpu'; id: number; micros: number }
  | { type: 'done'; id: number; value: unknown }
  | { type: 'failed'; id?: number; message: string };

function send(message: FromWorker): void {
  process.send?.(message);
}

export function reportReady(details?: Record<string, unknown>): void {
  send(details ? { type: 'ready', details } : { type: 'ready' });
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Named tasks a worker runs on request; the value must survive the IPC channel's JSON. */
export type WorkerTasks = Record<string, (params: unknown) => Promise<unknown>>;

/**
 * The worker side: answers `run` with `runCase(spec)`, `task` with the named task, `cpu` with
 * this process's CPU time, and `stop` with `shutdown()` then exit. It also exits when the
 * parent goes away, so an interrupted bench leaves nothing behind.
 */
export function serveParent(options: { runCase?: (spec: LoadSpec) => Promise<LoadResult>; tasks?: WorkerTasks; shutdown: () => Promise<void> }): void {
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
    else if (raw.type === 'cpu') send({ type: 'cpu', id: raw.id, micros: cpuMicros() });
    else if (raw.type === 'task') {
      const { id, name } = raw;
      const task = options.tasks && Object.hasOwn(options.tasks, name) ? options.tasks[name] : undefined;
      if (!task) {
        send({ type: 'failed', id, message: `this worker has no task ${JSON.stringify(name)}` });
        return;
      }
      task(raw.params).then(
        (value) => send({ type: 'done', id, value: value ?? null }),
        (err: unknown) => send({ type: 'failed', id, message: err instanceof Error ? err.message : String(err) }),
      );
    } else if (raw.type === 'run') {
      const { id } = raw;
      if (!options.runCase) {
        send({ type: 'failed', id, message: 'this worker does not generate load' });
        return;
      }
      options.runCase(raw.spec).then(
        (result) => send({ type: 'result', id, result }),
        (err: unknown) => send({ type: 'failed', id, message: err instanceof Error ? err.message : String(err) }),
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
