/**
 * The gateway's own API document: the OpenAPI document (openapi.ts) of every gateway route, rendered
 * once. The `/api/openapi.json` route gets it through `GatewayDeps.apiDocument`, so the routes never
 * import the list they are part of.
 */
import { renderOpenApi } from './openapi.ts';
import { gatewayRoutes } from './routes/index.ts';

let rendered: string | undefined;

/** docs/openapi.json as served and committed. */
export function renderGatewayApi(): string {
  rendered ??= renderOpenApi(gatewayRoutes());
  return rendered;
}
