/**
 * What an application imports from `shoal`: services, actions and events, the config, errors,
 * collections, and the ways to reach a cluster from outside (`connect`, `createDataClient`,
 * `startCluster`). Only what is here is the package's API; the folders' own index.ts barrels
 * are the runtime's internal surfaces and may change with any release.
 */
export {
  action,
  defineConfig,
  defineService,
  event,
  ShoalError,
  z,
  type ActionDefinition,
  type ActionNames,
  type AnyService,
  type CallMeta,
  type CallOptions,
  type CallRequest,
  type ConfigExtensions,
  type Context,
  type ContextExtensions,
  type ErrorBody,
  type ErrorCode,
  type EventDefinition,
  type EventMessage,
  type FieldProblem,
  type GatewayConfig,
  type HttpMethod,
  type InboundCall,
  type Interceptor,
  type KeyValueStore,
  type Logger,
  type Next,
  type NodeInfo,
  type OutboundAttempt,
  type OutboundCall,
  type ParamsOf,
  type Plugin,
  type RestAlias,
  type ResultOf,
  type ServiceDefinition,
  type ShoalConfig,
  type StoredValue,
} from './core/index.ts';
// Everything of shoal/data and shoal/cluster too, so one import serves an application.
export * from './public-data.ts';
export * from './public-cluster.ts';
