export { startGateway, type Gateway, type GatewayOptions } from './gateway.ts';
export { parseApiPath, paramsFromQuery, type ApiTarget } from './api-route.ts';
export { buildOpenApi } from './openapi.ts';
export { RestRouteTable, type RestRoute, type RestMatch } from './rest-routes.ts';
export { rateLimitConfig } from './rate-limit-config.ts';
/** `shoal lb`: the standalone reverse-proxy load balancer (its internals stay in ./proxy). */
export { ConfigError, configFromFlags, loadConfigFile, parseDuration, runLoadBalancer, type LbConfig } from './proxy/index.ts';
