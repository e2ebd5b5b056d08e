/** HTTP plumbing shared by every Node-based listener: JSON bodies and answers, listening, request URLs. */
export { checkJsonValue, isClientAbort, MAX_JSON_DEPTH, parseJsonBody, readBody, sendError, sendJson } from './json.ts';
export { closeHttp, listenHttp, type BoundAddress } from './listen.ts';
export { requestUrl } from './request-url.ts';
export { createHttpServer, type HttpHandler, type HttpServerOptions } from './server.ts';
