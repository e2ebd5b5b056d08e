/** Chaos testing: recording a workload's history and checking it is linearizable. */
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
