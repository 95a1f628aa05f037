/** The HTTP gateway actor: its kind, options, and the pieces tests and tools reuse. */
export { ApiKeyStore, type Caller, parseApiKeys, requireTier } from './auth.ts';
export { closeGatewayServer, gatewayKind } from './gateway.ts';
export * from './gateway-options.ts';
export { toHttpError, HTTP_STATUS_BY_CODE } from './http-errors.ts';
export { GatewayMetrics, PROMETHEUS_CONTENT_TYPE, renderFamilies } from './metrics.ts';
export { renderGatewayApi } from './api-document.ts';
export { OPENAPI_FILE, openApiDocument, renderOpenApi } from './openapi.ts';
export type { AnyRoute, GatewayDeps, RouteAuth } from './route-def.ts';
export { gatewayRoutes } from './routes/index.ts';
export { createGatewayServer } from './server.ts';
