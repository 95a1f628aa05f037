/**
 * Options of the HTTP gateway actor (kind `gateway`): one `DEFAULT_*` constant per default, unit in
 * the name, the schema of its start arguments and their compilation into settings. The env column:
 * what `agov actor gateway` and `agov up` take from the environment when the argument is not given
 * (system/environment-args.ts).
 *
 * | arg | env | default |
 * | --- | --- | --- |
 * | `port` (0 = a free port) | `AGOV_HTTP_PORT` | 8080 |
 * | `host` | `AGOV_HTTP_HOST` | `127.0.0.1` |
 * | `apiKeys` (`name:tier:key,…` or a list) | `AGOV_API_KEYS` | none |
 * | `apiKeysFile` (one `name:tier:key` a line, `#` comments) | `AGOV_API_KEYS_FILE` | none |
 * | `metricsKey` (bearer key required by `GET /metrics`) | `AGOV_METRICS_KEY` | none: `/metrics` is open |
 * | `bodyLimitBytes` | | 256 KiB |
 * | `maxParamLength` (longest path parameter; longer → 414) | | 256 |
 * | `unauthenticatedRateMax` (requests without a valid key per address per window; then 429) | | 100 |
 * | `rateLimitWindowMs` | | 10 000 |
 * | `askTimeoutMs` | | 5 000 |
 * | `auditTimeoutMs` | | 2 000 |
 * | `diagnosticFile` | | `examples/diagnostic.yaml` |
 * | `orchestratorKind`, `tokenAuthorityKind`, `tokenRenewerKind`, `budgetMonitorKind`, `handoffKind`, `agentDirectoryKind` | | see below |
 */
import { z } from 'zod';
import { ACTOR_KIND, SERVICE_NAME } from '../../protocols/index.ts';
import { arg } from '../runtime/index.ts';

export const GATEWAY_KIND = ACTOR_KIND.gateway;

/** HTTP port when none is configured. */
export const DEFAULT_GATEWAY_PORT = 8080;
/** Interface the gateway listens on: loopback only unless told otherwise. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1';
/** Largest request body accepted; a larger one is answered 413 without being read further. */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;
/**
 * Longest path parameter the router accepts (ids are at most 128 characters, so a 101-128 character
 * id reaches the route and its schema); a longer one is answered 414 in the documented error shape.
 */
export const DEFAULT_MAX_PARAM_LENGTH = 256;
/**
 * Requests one client address may make without a valid API key (none, a wrong or malformed one, or
 * a public route other than `/health`) per {@link DEFAULT_RATE_LIMIT_WINDOW_MS}; beyond it the
 * gateway answers 429 `GOV_ERR_RATE_LIMITED` with `Retry-After`. Calls with a valid key are not counted.
 */
export const DEFAULT_UNAUTHENTICATED_RATE_MAX = 100;
/** The window of {@link DEFAULT_UNAUTHENTICATED_RATE_MAX}. */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 10_000;
/** How long a route waits for the actor it asks over the bus (then 504). */
export const DEFAULT_GATEWAY_ASK_TIMEOUT_MS = 5_000;
/** How long the audit record of a state-changing call may take to be stored by JetStream. */
export const DEFAULT_AUDIT_TIMEOUT_MS = 2_000;
/** Shortest API key accepted in the configuration (shorter keys are guessable). */
export const DEFAULT_MIN_API_KEY_LENGTH = 16;
/** Pipeline file the orchestrator runs for `POST /api/observability/diagnostic` when the body names none. */
export const DEFAULT_DIAGNOSTIC_FILE = 'examples/diagnostic.yaml';
/** How long `close()` waits for in-flight requests before dropping their connections. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** Actor kinds whose service subjects (`gov.svc.<kind>`) the routes ask. */
export const DEFAULT_ORCHESTRATOR_KIND = ACTOR_KIND.orchestrator;
export const DEFAULT_TOKEN_AUTHORITY_KIND = ACTOR_KIND.tokenAuthority;
export const DEFAULT_TOKEN_RENEWER_KIND = ACTOR_KIND.tokenRenewer;
export const DEFAULT_BUDGET_MONITOR_KIND = ACTOR_KIND.budgetMonitor;
export const DEFAULT_HANDOFF_KIND = SERVICE_NAME.handoff;
export const DEFAULT_AGENT_DIRECTORY_KIND = ACTOR_KIND.agentDirectory;
export const DEFAULT_LEDGER_WRITER_KIND = ACTOR_KIND.ledgerWriter;

export interface ServiceKinds {
  orchestrator: string;
  tokenAuthority: string;
  tokenRenewer: string;
  budgetMonitor: string;
  handoff: string;
  agentDirectory: string;
  ledgerWriter: string;
}

export interface GatewaySettings {
  port: number;
  host: string;
  /** Inline key specs (`name:tier:key`), from `apiKeys` and AGOV_API_KEYS. */
  apiKeySpecs: string[];
  apiKeysFile: string | undefined;
  metricsKey: string | undefined;
  bodyLimitBytes: number;
  maxParamLength: number;
  unauthenticatedRateMax: number;
  rateLimitWindowMs: number;
  askTimeoutMs: number;
  auditTimeoutMs: number;
  diagnosticFile: string;
  services: ServiceKinds;
}

/** Inline API keys: `name:tier:key,…`, or a list of such strings or `{name, tier, key}` objects. */
const apiKeysArg = z.union([
  z.string().transform((v) =>
    v
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  ),
  z.array(
    z.union([
      z.string().transform((k) => k.trim()),
      z
        .strictObject({ name: z.string(), tier: z.string(), key: z.string() })
        .transform((k) => `${k.name}:${k.tier}:${k.key}`),
    ]),
  ),
]);

/** Start arguments of the gateway. */
export const GatewayArgsSchema = z.strictObject({
  port: arg.int(0, 65_535).default(DEFAULT_GATEWAY_PORT),
  host: arg.text().default(DEFAULT_GATEWAY_HOST),
  apiKeys: apiKeysArg.default([]),
  apiKeysFile: arg.text().optional(),
  metricsKey: arg.text().optional(),
  bodyLimitBytes: arg.int(1, 64 * 1024 * 1024).default(DEFAULT_BODY_LIMIT_BYTES),
  maxParamLength: arg.int(128, 8_192).default(DEFAULT_MAX_PARAM_LENGTH),
  unauthenticatedRateMax: arg.int(1, 1_000_000).default(DEFAULT_UNAUTHENTICATED_RATE_MAX),
  rateLimitWindowMs: arg.int(100, 3_600_000).default(DEFAULT_RATE_LIMIT_WINDOW_MS),
  askTimeoutMs: arg.int(1, 600_000).default(DEFAULT_GATEWAY_ASK_TIMEOUT_MS),
  auditTimeoutMs: arg.int(1, 600_000).default(DEFAULT_AUDIT_TIMEOUT_MS),
  diagnosticFile: arg.text().default(DEFAULT_DIAGNOSTIC_FILE),
  orchestratorKind: arg.text().default(DEFAULT_ORCHESTRATOR_KIND),
  tokenAuthorityKind: arg.text().default(DEFAULT_TOKEN_AUTHORITY_KIND),
  tokenRenewerKind: arg.text().default(DEFAULT_TOKEN_RENEWER_KIND),
  budgetMonitorKind: arg.text().default(DEFAULT_BUDGET_MONITOR_KIND),
  handoffKind: arg.text().default(DEFAULT_HANDOFF_KIND),
  agentDirectoryKind: arg.text().default(DEFAULT_AGENT_DIRECTORY_KIND),
  ledgerWriterKind: arg.text().default(DEFAULT_LEDGER_WRITER_KIND),
});
export type GatewayArgs = z.output<typeof GatewayArgsSchema>;

/** Compiles the gateway's parsed start arguments into its settings. */
export function gatewaySettings(args: GatewayArgs): GatewaySettings {
  return {
    port: args.port,
    host: args.host,
    apiKeySpecs: args.apiKeys,
    apiKeysFile: args.apiKeysFile,
    metricsKey: args.metricsKey,
    bodyLimitBytes: args.bodyLimitBytes,
    maxParamLength: args.maxParamLength,
    unauthenticatedRateMax: args.unauthenticatedRateMax,
    rateLimitWindowMs: args.rateLimitWindowMs,
    askTimeoutMs: args.askTimeoutMs,
    auditTimeoutMs: args.auditTimeoutMs,
    diagnosticFile: args.diagnosticFile,
    services: {
      orchestrator: args.orchestratorKind,
      tokenAuthority: args.tokenAuthorityKind,
      tokenRenewer: args.tokenRenewerKind,
      budgetMonitor: args.budgetMonitorKind,
      handoff: args.handoffKind,
      agentDirectory: args.agentDirectoryKind,
      ledgerWriter: args.ledgerWriterKind,
    },
  };
}
