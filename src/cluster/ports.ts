/**
 * Every port of a local cluster follows from one base P, so a user who knows P knows where
 * everything listens, and two clusters with bases 500 apart never collide.
 */
export const MAX_GATEWAYS = 50;
export const MAX_NODES = 99;

export interface PortPlan {
  base: number;
  control: number;
  admin: number;
  gateway(index: number): number;
  nodeTransport(index: number): number;
  nodeHttp(index: number): number;
}

export function portPlan(base: number): PortPlan {
  if (!Number.isInteger(base) || base < 1 || base + 200 + MAX_NODES > 65535) {
    throw new RangeError(`port base ${base} is out of range (1..${65535 - 200 - MAX_NODES})`);
  }
  return {
    base,
    control: base + 50,
    admin: base + 51,
    gateway: (g) => base + g - 1,
    nodeTransport: (i) => base + 100 + i,
    nodeHttp: (i) => base + 200 + i,
  };
}
