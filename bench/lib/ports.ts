import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now, for peers that must know each other's address up front. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port base for a local Shoal cluster (see src/cluster/ports.ts) whose ports are all free
 * right now: the gateway, control and admin ports and each node's transport and HTTP ports.
 */
export async function freeClusterPortBase(nodes: number, gateways = 1): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Bases 10000..29500 in steps of 500: below Linux's ephemeral range, apart from one another.
    const base = 10_000 + Math.floor(Math.random() * 40) * 500;
    const ports = [base + 50, base + 51];
    for (let g = 1; g <= gateways; g++) ports.push(base + g - 1);
    for (let i = 1; i <= nodes; i++) ports.push(base + 100 + i, base + 200 + i);
    const free = await Promise.all(ports.map(portIsFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base found for a local cluster');
}
