/** Every route of the gateway, in the order the OpenAPI document lists them. */
import type { AnyRoute } from '../route-def.ts';
import { agentsRoutes } from './agents.ts';
import { contextRoutes } from './context.ts';
import { controlRoutes } from './controls.ts';
import { ledgerRoutes } from './ledger.ts';
import { observabilityRoutes } from './observability.ts';
import { pipelineRoutes } from './pipeline.ts';
import { pipelinesRoutes } from './pipelines.ts';
import { systemRoutes } from './system.ts';

export function gatewayRoutes(): AnyRoute[] {
  return [
    ...pipelinesRoutes,
    ...pipelineRoutes,
    ...observabilityRoutes,
    ...agentsRoutes,
    ...controlRoutes,
    ...contextRoutes,
    ...ledgerRoutes,
    ...systemRoutes,
  ];
}
