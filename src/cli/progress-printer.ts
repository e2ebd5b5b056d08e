import type { ClusterEvent } from '../cluster/index.ts';

/**
 * Turns supervisor events into lines a person can follow: "starting node-1 on … ready" while the
 * cluster starts, and a line per crash, restart and stop afterwards.
 */
export function progressPrinter(write: (text: string) => void): (event: ClusterEvent) => void {
  // The id whose line was begun ("starting x … ") and waits for its outcome.
  let open: string | undefined;
  const line = (text: string) => {
    if (open !== undefined) write('\n');
    open = undefined;
    write(text + '\n');
  };
  const begin = (id: string, text: string) => {
    if (open !== undefined) write('\n');
    open = id;
    write(text);
  };
  const finish = (id: string, done: string, otherwise: string) => {
    if (open === id) {
      open = undefined;
      write(done + '\n');
    } else line(otherwise);
  };
  return (event) => {
    switch (event.type) {
      case 'starting':
        return begin(event.id, `starting ${event.id} on ${event.address} … `);
      case 'ready':
        return finish(event.id, 'ready', `${event.id} ready (pid ${event.pid}, restarts ${event.restarts})`);
      case 'exited':
        if (!event.expected) line(`${event.id} (pid ${event.pid}) exited unexpectedly (${event.signal ? `signal ${event.signal}` : `code ${event.code}`})`);
        return;
      case 'restarting':
        return line(`restarting ${event.id} in ${event.delayMs} ms`);
      case 'stopping':
        // Processes of one kind stop together, so a line per outcome reads better than pairs.
        return;
      case 'stopped':
        return line(`${event.id} stopped`);
      case 'killed':
        return line(`${event.id} (pid ${event.pid}) did not stop in time: killed`);
      case 'error':
        return line(`${event.id}: ${event.message}`);
    }
  };
}
