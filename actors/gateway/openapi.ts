/**
 * The gateway's OpenAPI 3.1 document, generated from the route declarations (route-def.ts): the
 * same zod schemas that validate requests give the request and response schemas, so the document
 * cannot drift from the code. The gateway's own document (api-document.ts) is served at
 * `GET /api/openapi.json` and kept as docs/openapi.json (system/schema-files.ts; `npm run schemas`
 * rewrites it, a test keeps it fresh).
 */
import { z } from 'zod';
import { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT } from './gateway-options.ts';
import type { AnyRoute } from './route-def.ts';
import { ErrorBodySchema } from './schemas.ts';

/** Version of the HTTP API (not of the package): bumped when a route changes incompatibly. */
export const OPENAPI_API_VERSION = '1.0.0';
/** Path of the committed copy, relative to the repository root. */
export const OPENAPI_FILE = 'docs/openapi.json';

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  delete out.$schema;
  return out;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: the message names the field (GOV_ERR_INVALID_MESSAGE), or the pipeline is invalid (GOV_ERR_PIPELINE_INVALID, with diagnostics)',
  401: 'Missing or invalid API key (GOV_ERR_UNAUTHENTICATED)',
  403: "The key's tier is below the route's (GOV_ERR_FORBIDDEN)",
  404: 'Not found (GOV_ERR_NOT_FOUND)',
  413: 'Request body too large (GOV_ERR_PAYLOAD_TOO_LARGE)',
  415: 'Body is not application/json (GOV_ERR_INVALID_MESSAGE)',
  500: 'Internal error (GOV_ERR_INTERNAL)',
  503: 'The actor serving this is not running or the bus is down (GOV_ERR_NO_RESPONDERS; retryable)',
  504: 'The actor serving this did not answer in time (GOV_ERR_TIMEOUT; retryable)',
};

function parameters(schema: z.ZodType | undefined, where: 'query' | 'path'): JsonObject[] {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input');
  const props = (js.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((js.required ?? []) as string[]);
  return Object.entries(props).map(([name, prop]) => {
    const { description, ...rest } = prop;
    const p: JsonObject = { name, in: where, required: where === 'path' || required.has(name), schema: rest };
    if (typeof description === 'string') p.description = description;
    return p;
  });
}

function errorStatuses(route: AnyRoute): number[] {
  const s = new Set<number>([500, ...(route.errors ?? [])]);
  if (route.auth === 'T0' || route.auth === 'T1' || route.auth === 'T2') {
    s.add(401);
    s.add(403);
  }
  if (route.auth === 'metrics') s.add(401);
  if (route.body) {
    s.add(400);
    s.add(413);
    s.add(415);
  }
  if (route.query || route.params) s.add(400);
  return [...s].sort((a, b) => a - b);
}

function operation(route: AnyRoute): JsonObject {
  const op: JsonObject = {
    operationId: route.operationId,
    summary: route.summary,
    description: route.description,
    tags: [route.tag],
  };
  if (route.auth === 'T0' || route.auth === 'T1' || route.auth === 'T2') {
    op.security = [{ apiKey: [] }];
    op['x-agov-tier'] = route.auth;
  } else if (route.auth === 'metrics') {
    op.security = [{}, { metricsKey: [] }];
  } else {
    op.security = [];
  }
  if (route.audit) op['x-agov-audited'] = true;
  const params = [...parameters(route.params, 'path'), ...parameters(route.query, 'query')];
  if (params.length > 0) op.parameters = params;
  if (route.body) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
    };
  }
  const responses: JsonObject = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const contentType = r.contentType ?? 'application/json';
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: { [contentType]: { schema: jsonSchema(r.schema, 'output') } } } : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    if (responses[String(status)]) continue;
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  op.responses = responses;
  return op;
}

/** The OpenAPI document as an object. */
export function openApiDocument(routes: readonly AnyRoute[]): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'agent-governance HTTP gateway',
      version: OPENAPI_API_VERSION,
      description:
        'HTTP in front of the agent-governance bus: every call is translated to a bus message to the actor that owns it. ' +
        'Keys carry a tier (T0 observer, T1 executor, T2 admin); each operation lists the tier it needs in `x-agov-tier`. ' +
        'Errors are `{ "error": { "code", "message", "retryable", "details" } }` with the codes of docs/errors.md. See docs/http-api.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: `http://${DEFAULT_GATEWAY_HOST}:${DEFAULT_GATEWAY_PORT}` }],
    tags: [
      { name: 'pipelines', description: 'Start and follow pipeline runs' },
      { name: 'pipeline', description: "A run's token and error budget" },
      { name: 'observability', description: 'Handoff reports, violations, diagnostics' },
      { name: 'agents', description: 'The agent fleet' },
      { name: 'context', description: 'Checkpoints, work status and external memory (docs/context.md)' },
      { name: 'ledger', description: "The audit ledger's trust anchor: signing key and latest checkpoint" },
      { name: 'system', description: 'Health, metrics, this document' },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key configured as name:tier:key (AGOV_API_KEYS)',
        },
        metricsKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The metrics key, when the gateway is given one',
        },
      },
      schemas: { Error: jsonSchema(ErrorBodySchema, 'output') },
    },
  };
}

/** The document as served and committed: 2-space JSON with a final newline. */
export function renderOpenApi(routes: readonly AnyRoute[]): string {
  return `${JSON.stringify(openApiDocument(routes), null, 2)}\n`;
}
