import { readFile, rm, writeFile, rename } from 'node:fs/promises';

/** What a running supervisor writes to DIR/supervisor.json so the CLI can find it. */
export interface SupervisorState {
  pid: number;
  port: number;
  dir: string;
  gatewayUrl: string;
  dashboardUrl: string;
  controlUrl: string;
  adminUrl: string;
  startedAt: string;
}

export async function writeState(path: string, state: SupervisorState): Promise<void> {
  // Written through a rename so a reader never sees half a file.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 2) + '\n');
  await rename(temporary, path);
}

/** The state in the file, or undefined when there is none or it is unreadable. */
export async function readState(path: string): Promise<SupervisorState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as Partial<SupervisorState>;
    if (typeof state.pid !== 'number' || typeof state.adminUrl !== 'string' || typeof state.gatewayUrl !== 'string') return undefined;
    return state as SupervisorState;
  } catch {
    return undefined;
  }
}

/** Removes the file only if it still names this process, so it never deletes a successor's. */
export async function removeState(path: string, pid: number): Promise<void> {
  const state = await readState(path);
  if (state && state.pid !== pid) return;
  await rm(path, { force: true });
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
