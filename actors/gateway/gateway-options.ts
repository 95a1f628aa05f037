/**
 * Options of the HTTP gateway actor (kind `gateway`): one `DEFAULT_*` constant per default, unit in
 * the name, and the pure resolution of its start arguments and environment into settings.
 *
 * | arg | env | default |
 * | --- | --- | --- |
 * | `port` (0 = a free port) | `AGOV_HTTP_PORT` | 8080 |
 * | `host` | `AGOV_HTTP_HOST` | `127.0.0.1` |
 * | `apiKeys` (`name:tier:key,…` or a list) | `AGOV_API_KEYS` | none |
 * | `apiKeysFile` (one `name:tier:key` a line, `#` comments) | `AGOV_API_KEYS_FILE` | none |
 * | `metricsKey` (bearer key required by `GET /metrics`) | `AGOV_METRICS_KEY` | none: `/metrics` is open |
 * | `bodyLimitBytes` | | 256 KiB |
 * | `askTimeoutMs` | | 5 000 |
 * | `auditTimeoutMs` | | 2 000 |
 * | `diagnosticFile` | | `examples/diagnostic.yaml` |
 * | `orchestratorKind`, `tokenAuthorityKind`, `tokenRenewerKind`, `budgetMonitorKind`, `handoffKind`, `agentDirectoryKind` | | see below |
 */
import { ConfigError } from '../../protocols/errors.ts';

export const GATEWAY_KIND = 'gateway';

/** HTTP port when none is configured. */
export const DEFAULT_GATEWAY_PORT = 8080;
/** Interface the gateway listens on: loopback only unless told otherwise. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1';
/** Largest request body accepted; a larger one is answered 413 without being read further. */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;
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
export const DEFAULT_ORCHESTRATOR_KIND = 'orchestrator';
export const DEFAULT_TOKEN_AUTHORITY_KIND = 'token-authority';
export const DEFAULT_TOKEN_RENEWER_KIND = 'token-renewer';
export const DEFAULT_BUDGET_MONITOR_KIND = 'budget-monitor';
export const DEFAULT_HANDOFF_KIND = 'handoff';
export const DEFAULT_AGENT_DIRECTORY_KIND = 'agent-directory';

export interface ServiceKinds {
  orchestrator: string;
  tokenAuthority: string;
  tokenRenewer: string;
  budgetMonitor: string;
  handoff: string;
  agentDirectory: string;
}

export interface GatewaySettings {
  port: number;
  host: string;
  /** Inline key specs (`name:tier:key`), from `apiKeys` and AGOV_API_KEYS. */
  apiKeySpecs: string[];
  apiKeysFile: string | undefined;
  metricsKey: string | undefined;
  bodyLimitBytes: number;
  askTimeoutMs: number;
  auditTimeoutMs: number;
  diagnosticFile: string;
  services: ServiceKinds;
}

function str(args: Readonly<Record<string, unknown>>, name: string, envValue?: string): string | undefined {
  const v = args[name] ?? envValue;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number')
    throw new ConfigError(`gateway arg ${name} must be a string`);
  return String(v);
}

function int(
  args: Readonly<Record<string, unknown>>,
  name: string,
  def: number,
  min: number,
  max: number,
  envValue?: string,
): number {
  const raw = args[name] ?? envValue;
  if (raw === undefined || raw === null || raw === '') return def;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `gateway arg ${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** Splits an inline key list: a comma-separated string, or an array of strings / `{name, tier, key}` objects. */
function keySpecs(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(v)) {
    return v.map((item, i) => {
      if (typeof item === 'string') return item.trim();
      if (item && typeof item === 'object') {
        const { name, tier, key } = item as Record<string, unknown>;
        if (typeof name === 'string' && typeof tier === 'string' && typeof key === 'string')
          return `${name}:${tier}:${key}`;
      }
      throw new ConfigError(`gateway arg apiKeys[${i}] must be "name:tier:key" or {name, tier, key}`);
    });
  }
  throw new ConfigError('gateway arg apiKeys must be "name:tier:key,…" or a list');
}

/** Resolves the gateway's start arguments (and environment) into settings; throws ConfigError naming the bad value. */
export function gatewaySettings(
  args: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): GatewaySettings {
  const services: ServiceKinds = {
    orchestrator: str(args, 'orchestratorKind') ?? DEFAULT_ORCHESTRATOR_KIND,
    tokenAuthority: str(args, 'tokenAuthorityKind') ?? DEFAULT_TOKEN_AUTHORITY_KIND,
    tokenRenewer: str(args, 'tokenRenewerKind') ?? DEFAULT_TOKEN_RENEWER_KIND,
    budgetMonitor: str(args, 'budgetMonitorKind') ?? DEFAULT_BUDGET_MONITOR_KIND,
    handoff: str(args, 'handoffKind') ?? DEFAULT_HANDOFF_KIND,
    agentDirectory: str(args, 'agentDirectoryKind') ?? DEFAULT_AGENT_DIRECTORY_KIND,
  };
  return {
    port: int(args, 'port', DEFAULT_GATEWAY_PORT, 0, 65_535, env.AGOV_HTTP_PORT),
    host: str(args, 'host', env.AGOV_HTTP_HOST) ?? DEFAULT_GATEWAY_HOST,
    apiKeySpecs: keySpecs(args.apiKeys ?? env.AGOV_API_KEYS),
    apiKeysFile: str(args, 'apiKeysFile', env.AGOV_API_KEYS_FILE),
    metricsKey: str(args, 'metricsKey', env.AGOV_METRICS_KEY),
    bodyLimitBytes: int(args, 'bodyLimitBytes', DEFAULT_BODY_LIMIT_BYTES, 1, 64 * 1024 * 1024),
    askTimeoutMs: int(args, 'askTimeoutMs', DEFAULT_GATEWAY_ASK_TIMEOUT_MS, 1, 600_000),
    auditTimeoutMs: int(args, 'auditTimeoutMs', DEFAULT_AUDIT_TIMEOUT_MS, 1, 600_000),
    diagnosticFile: str(args, 'diagnosticFile') ?? DEFAULT_DIAGNOSTIC_FILE,
    services,
  };
}
