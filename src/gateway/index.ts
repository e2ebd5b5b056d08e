export { startGateway, type Gateway, type GatewayOptions } from './gateway.ts';
export { parseApiPath, paramsFromQuery, type ApiTarget } from './api-route.ts';
export { buildOpenApi } from './openapi.ts';
export { RestRouteTable, type RestRoute, type RestMatch } from './rest-routes.ts';
export { rateLimitConfig } from './rate-limit-config.ts';
