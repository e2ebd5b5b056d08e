export { ServiceBroker, type ServiceBrokerOptions, type RuntimePlugin, type BrokerState } from './broker.ts';
export type { BrokerHealth, CallByNameOptions, GatewayBroker, RoutingCaller, ServiceCaller, ServiceCatalog } from './facade.ts';
export { ServiceRegistry, type ServiceEndpoint } from './registry.ts';
export { nodeService, type NodeFacts } from './node-service.ts';
export { timeoutPlugin } from './plugins/timeout.ts';
export { retryPlugin, type RetryOptions } from './plugins/retry.ts';
export { circuitBreakerPlugin, type CircuitBreakerOptions } from './plugins/circuit-breaker.ts';
export { waitForEndpoint } from './endpoint-wait.ts';
