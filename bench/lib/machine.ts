import { cpus, release, type as osType } from 'node:os';

export interface MachineInfo {
  cpus: number;
  model: string;
  node: string;
  os: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    os: `${osType()} ${release()} ${process.arch}`,
  };
}
