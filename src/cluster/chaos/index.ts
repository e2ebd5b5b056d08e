/** Chaos testing: faults on a running cluster, a register workload under them, and checking its history is linearizable. */
export {
  HistoryRecorder,
  counterClock,
  describeOperation,
  type History,
  type HistoryRecorderOptions,
  type Operation,
  type OperationHandle,
  type OperationInput,
  type Outcome,
  type RegisterValue,
  type ResultOf,
} from './history.ts';
export { checkLinearizable, lostAcknowledgedWrites, type CheckOptions, type CheckResult, type KeyStats, type LostWrites } from './linearizability.ts';
export { NodeFaults, type ListedFault, type PartitionOptions, type SlowOptions } from './node-faults.ts';
export { killNode } from './kill-node.ts';
export { planFaults, FAULT_KINDS, type FaultKind, type FaultScheduleOptions, type PlannedFault } from './fault-schedule.ts';
export { ClusterFaultInjector, type ClusterFaultInjectorOptions, type FaultInjector } from './fault-injector.ts';
export { documentRegisters, type RegisterStore, type StoredRegister } from './register-store.ts';
export { fateOfError, type ErrorFate } from './fate-of-error.ts';
export { RegisterWorkload, type RegisterWorkloadOptions, type WorkloadOperation } from './register-workload.ts';
export { judgeHistory, type ChaosVerdict, type KeyViolation, type LostWrite } from './chaos-verdict.ts';
export { buildChaosReport, reportedOperation, type ChaosReport, type ChaosReportInput, type FaultRecord, type OutcomeCounts, type ReportedOperation } from './chaos-report.ts';
export { runChaosTest, pickKeys, FINAL_READER, type ChaosRunOptions } from './chaos-run.ts';
