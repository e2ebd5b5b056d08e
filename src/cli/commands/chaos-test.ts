import { randomInt } from 'node:crypto';
import {
  ClusterFaultInjector,
  connect,
  documentRegisters,
  FAULT_KINDS,
  NodeFaults,
  runChaosTest,
  type ClusterConnection,
  type FaultKind,
} from '../../cluster/index.ts';
import { chaosCollection, CHAOS_COLLECTION, createDataClient } from '../../data/index.ts';
import { toShoalError } from '../../core/index.ts';
import { CliError, intOption, UsageError } from '../args.ts';
import { chaosReportText } from '../chaos-report-text.ts';
import { fetchStatus, locateControl, requireCluster } from '../cluster-client.ts';
import { closest } from '../suggest.ts';
import { durationOption, type ChaosValues } from './chaos-spec.ts';
import { explicitPort } from './common.ts';

const MIN_DURATION_MS = 1_000;
const MAX_DURATION_MS = 3_600_000;
/** A workload call that gets no answer in this long is uncertain; short, so one lost call does not stall its client for long. */
const WORKLOAD_CALL_TIMEOUT_MS = 3_000;

function durationFlag(value: string | undefined): number {
  const ms = durationOption('duration', value) ?? 60_000;
  if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) throw new UsageError(`--duration must be from 1s to 1h, got "${value}"`);
  return ms;
}

function faultsFlag(value: string): FaultKind[] {
  const names = value.split(',').map((name) => name.trim());
  if (names.length === 1 && names[0] === 'none') return [];
  const kinds: FaultKind[] = [];
  for (const name of names) {
    const kind = FAULT_KINDS.find((k) => k === name);
    if (kind === undefined) {
      const suggestion = closest(name, [...FAULT_KINDS]);
      throw new UsageError(`--faults takes a comma-separated list of ${FAULT_KINDS.join(', ')} (or none); "${name}" is none of them${suggestion ? `: did you mean ${suggestion}?` : ''}`);
    }
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  return kinds;
}

/** `shoal chaos test`: the register workload under seeded faults against the running cluster, checked. Exit 0 when it passes, 1 when not. */
export async function chaosTest(values: ChaosValues): Promise<number> {
  const durationMs = durationFlag(values.duration);
  const faults = faultsFlag(values.faults ?? 'kill,partition');
  const keys = intOption('keys', values.keys, 8, 1, 1000);
  const clients = intOption('clients', values.clients, 8, 1, 256);
  const seed = values.seed === undefined ? randomInt(2 ** 31) : intOption('seed', values.seed, 0, 0, 2 ** 32 - 1);
  const location = await requireCluster(values.dir, explicitPort(values.port));
  const { controlUrl, secret } = await locateControl(values.dir);
  const progress = values.json ? () => {} : (line: string) => process.stderr.write(`chaos test: ${line}\n`);

  const connections: ClusterConnection[] = [];
  try {
    // Two members: the one setting faults is never cut, so it can always heal; the workload's is cut like any client.
    const control = await connect({ controlUrl, secret, clientId: `chaos-${process.pid}` });
    connections.push(control);
    const workload = await connect({ controlUrl, secret, clientId: `chaos-test-${process.pid}`, callTimeoutMs: WORKLOAD_CALL_TIMEOUT_MS });
    connections.push(workload);
    const data = await createDataClient(workload, { collections: [chaosCollection] });
    try {
      const runId = `chaos-${Date.now().toString(36)}`;
      const collection = data.collection(chaosCollection);
      await collection.get(`${runId}-probe`).catch((err: unknown) => {
        const e = toShoalError(err);
        if (e.code === 'NOT_FOUND') throw new CliError(`the cluster's data nodes do not host the ${CHAOS_COLLECTION} collection (started with an older shoal?): restart the cluster`);
        throw new CliError(`the data store does not answer: ${e.message}`);
      });
      const injector = new ClusterFaultInjector({
        processes: async () => (await fetchStatus(location)).processes,
        nodeFaults: new NodeFaults(control),
        clientFaults: workload.faults,
      });
      const report = await runChaosTest(documentRegisters(collection, data.router), injector, { durationMs, faults, keys, clients, seed, runId, progress });
      process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : chaosReportText(report));
      return report.passed ? 0 : 1;
    } finally {
      data.close();
    }
  } finally {
    for (const connection of connections.reverse()) await connection.close();
  }
}
