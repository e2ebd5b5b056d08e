import { runControl } from './control.ts';
import { runGateway } from './gateway.ts';
import { runNode } from './node.ts';

export type Role = 'control' | 'node' | 'gateway';

/** Runs one process of a cluster; the supervisor starts each as `shoal _run ROLE …`. */
export function runRole(role: string, argv: readonly string[]): Promise<void> {
  switch (role) {
    case 'control':
      return runControl(argv);
    case 'node':
      return runNode(argv);
    case 'gateway':
      return runGateway(argv);
    default:
      return Promise.reject(new Error(`unknown role ${JSON.stringify(role)} (control, node or gateway)`));
  }
}
