/**
 * Audit of state-changing API calls: one `api.call.v1` on `gov.audit.api` (JetStream stream AUDIT,
 * read by the ledger writer) per call made with a valid key — the route, the key's name and tier,
 * the status answered, the run concerned. Never the key, never the request body.
 */
import type { Tier } from '../../protocols/index.ts';
import { auditSubject } from '../../protocols/index.ts';
import type { GatewayDeps } from './route-def.ts';

export const API_AUDIT_CATEGORY = 'api';

export interface ApiCall {
  method: string;
  route: string;
  status: number;
  keyName: string;
  tier: Tier;
  runId?: string;
  requestId: string;
  durationMs: number;
  errorCode?: string;
}

/**
 * Publishes the record and waits for the stream's ack (bounded by `auditTimeoutMs`). A failure is
 * counted and logged, never turned into an HTTP error: the call itself already happened.
 */
export async function auditApiCall(deps: GatewayDeps, call: ApiCall): Promise<boolean> {
  const body = { ...call, durationMs: Math.max(0, Math.round(call.durationMs * 1000) / 1000) };
  if (body.runId === undefined) delete body.runId;
  if (body.errorCode === undefined) delete body.errorCode;
  try {
    const env = deps.bus.wrap({ type: 'api.call.v1', body, ...(call.runId ? { run: call.runId } : {}) });
    await deps.bus.publishDurable(auditSubject(API_AUDIT_CATEGORY, deps.bus.principal()), env, {
      timeoutMs: deps.settings.auditTimeoutMs,
    });
    return true;
  } catch (err) {
    deps.metrics.recordAuditFailure();
    deps.log.warn('audit record of an API call was not stored', {
      route: call.route,
      status: call.status,
      requestId: call.requestId,
      error: String(err),
    });
    return false;
  }
}
