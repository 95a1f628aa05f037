/**
 * The handoff report (pure): everything whoever recovers a run with an exhausted error budget needs,
 * as one JSON document. See docs/governance.md, "Handoff reports".
 */
import type { z } from 'zod';
import type { HandoffReportSchema } from '../../protocols/index.ts';
import type { SerializedError } from '../../protocols/index.ts';

export type HandoffReport = z.output<typeof HandoffReportSchema>;

/** One counted error, as the budget monitor keeps it per run and the report's timeline lists it. */
export type HandoffError = HandoffReport['errors']['timeline'][number];

export interface HandoffInput {
  reportId: string;
  runId: string;
  pipeline?: string;
  parentRunId?: string;
  createdAt: number;
  reason: string;
  budget: HandoffReport['budget'];
  /** Kept errors, oldest first (the last N). */
  errors: HandoffError[];
  /** Errors counted in the budget's longest window (may exceed the kept timeline). */
  errorCount?: number;
  failingStage?: string;
  failingAgent?: string;
  token: {
    accessor?: string;
    revoked: boolean;
    revokedAt?: number;
    reason?: string;
    suspendedAgents: string[];
    error?: SerializedError;
  };
  diagnostic: { pipeline: string; runId?: string; error?: SerializedError };
  ledger: {
    stream: string;
    subjects: string[];
    fromSeq?: number;
    toSeq?: number;
    fromTs?: number;
    runIds: string[];
  };
}

/** What to do about each error code, for the report's next steps. */
export const NEXT_STEP_BY_CODE: Readonly<Record<string, string>> = {
  GOV_ERR_TIMEOUT:
    "Stages timed out: check the agents' load and the remote services, or raise the stage timeoutMs.",
  GOV_ERR_NO_RESPONDERS:
    'Nobody answered: check that agents of the required tier are registered and running.',
  GOV_ERR_ACTOR_CRASHED:
    'An actor crashed: read its actor.exit.v1 reports (gov.sys.exit.>) and the dead letters (gov.dlq.>).',
  GOV_ERR_TIER_FORBIDDEN:
    "A stage needs a higher tier than its agents have: fix the stage's agent.tier or promote an agent (T2 only).",
  GOV_ERR_POLICY_VIOLATION:
    'A policy was violated: review the violation events (gov.obs.token.>) before resuming any agent.',
  GOV_ERR_TOKEN_REVOKED:
    'Tokens were revoked while the run worked: check why in the token events of the ledger range.',
  GOV_ERR_TOKEN_EXPIRED:
    "Tokens expired: check the token renewer is running and the run's maxTtlMs suits its length.",
  GOV_ERR_VAULT: "Vault failed: check Vault's health (sys/health) and the authority's Vault token.",
  GOV_ERR_PIPELINE_INVALID:
    'The pipeline (or a child) is invalid: run it through the pipeline validator and fix the file.',
  GOV_ERR_INVALID_MESSAGE:
    'Messages were rejected as invalid: a component speaks another protocol version; check the dead letters.',
  GOV_ERR_INTERNAL: "Internal errors: read the failing stage's output and the agent's logs.",
};

/** Next steps derived from the error codes (most frequent first), then the generic ones. */
export function nextSteps(
  byCode: Readonly<Record<string, number>>,
  input: Pick<HandoffInput, 'runId' | 'diagnostic' | 'token' | 'ledger'>,
): string[] {
  const steps: string[] = [];
  const codes = Object.entries(byCode).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [code, n] of codes) {
    const step = NEXT_STEP_BY_CODE[code];
    steps.push(
      step ? `${code} ×${n}: ${step}` : `${code} ×${n}: read the errors with this code in the timeline.`,
    );
  }
  if (input.diagnostic.runId)
    steps.push(`Read the diagnostic run ${input.diagnostic.runId} (pipeline ${input.diagnostic.pipeline}).`);
  else
    steps.push(
      `No diagnostic run was started${input.diagnostic.error ? ` (${input.diagnostic.error.code})` : ''}: start ${input.diagnostic.pipeline} by hand with failedRunId=${input.runId}.`,
    );
  if (!input.token.revoked && input.token.error)
    steps.push('The run token could not be confirmed revoked: revoke it by accessor in Vault now.');
  const range =
    input.ledger.fromSeq !== undefined
      ? `sequences ${input.ledger.fromSeq}–${input.ledger.toSeq ?? 'end'}`
      : 'the time range';
  steps.push(
    `Read the ledger (${input.ledger.stream} ${range}, run ids ${input.ledger.runIds.join(', ')}) for the full history.`,
  );
  if (input.token.suspendedAgents.length > 0)
    steps.push(
      `Resume the suspended agents (${input.token.suspendedAgents.join(', ')}) once the cause is fixed (agov agents resume ID, T2).`,
    );
  steps.push(`Reset the run's error budget before re-running it (the breach is latched).`);
  return steps;
}

export function buildHandoffReport(input: HandoffInput): HandoffReport {
  const byCode: Record<string, number> = {};
  for (const e of input.errors) {
    const code = e.code ?? 'unknown';
    byCode[code] = (byCode[code] ?? 0) + 1;
  }
  const last = [...input.errors].reverse();
  const failing = {
    stageId: input.failingStage ?? last.find((e) => e.stageId)?.stageId,
    agentId: input.failingAgent ?? last.find((e) => e.agentId)?.agentId,
    childRunId: last.find((e) => e.childRunId)?.childRunId,
  };
  const report: HandoffReport = {
    reportId: input.reportId,
    runId: input.runId,
    pipeline: input.pipeline,
    parentRunId: input.parentRunId,
    createdAt: input.createdAt,
    reason: input.reason,
    failing: Object.fromEntries(Object.entries(failing).filter(([, v]) => v !== undefined)),
    budget: input.budget,
    errors: { total: Math.max(input.errorCount ?? 0, input.errors.length), byCode, timeline: input.errors },
    token: input.token,
    diagnostic: input.diagnostic,
    ledger: { ...input.ledger, toTs: input.createdAt },
    nextSteps: nextSteps(byCode, input),
  };
  return stripUndefined(report);
}

function stripUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
