/**
 * Typed errors of agent-governance.
 *
 * Every error has a stable `code` (documented in docs/errors.md), a `retryable` flag
 * and an optional `cause`. Errors cross the bus in message headers
 * (see {@link errorToHeaders}) and are rebuilt as the same class on the caller's side
 * (see {@link errorFromHeaders}), so `err instanceof TokenRevokedError` works across processes.
 */

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Every code the system emits. docs/errors.md lists each with how to fix it; a test keeps the two in step. */
export const ERROR_CODES = [
  'GOV_ERR_INTERNAL',
  'GOV_ERR_TIMEOUT',
  'GOV_ERR_NO_RESPONDERS',
  'GOV_ERR_DECODE',
  'GOV_ERR_INVALID_MESSAGE',
  'GOV_ERR_PAYLOAD_TOO_LARGE',
  'GOV_ERR_UNKNOWN_SUBJECT',
  'GOV_ERR_UNHANDLED_MESSAGE',
  'GOV_ERR_INVALID_SUBJECT_TOKEN',
  'GOV_ERR_ACTOR_STOPPED',
  'GOV_ERR_ACTOR_CRASHED',
  'GOV_ERR_UNKNOWN_ACTOR_KIND',
  'GOV_ERR_BUS_CLOSED',
  'GOV_ERR_MISSING_BINARY',
  'GOV_ERR_SERVICE_START',
  'GOV_ERR_CONFIG',
  'GOV_ERR_TIER_FORBIDDEN',
  'GOV_ERR_POLICY_VIOLATION',
  'GOV_ERR_INVALID_TRANSITION',
  'GOV_ERR_NOT_FOUND',
  'GOV_ERR_PIPELINE_INVALID',
  'GOV_ERR_TOKEN_REVOKED',
  'GOV_ERR_TOKEN_EXPIRED',
  'GOV_ERR_VAULT',
  'GOV_ERR_BUDGET_EXHAUSTED',
  'GOV_ERR_UNAUTHENTICATED',
  'GOV_ERR_FORBIDDEN',
  'GOV_ERR_LEDGER_TAMPERED',
  'GOV_ERR_LEDGER_STORE',
  'GOV_ERR_EVIDENCE_INVALID',
  'GOV_ERR_AGENT_BUSY',
  'GOV_ERR_AGENT_UNAVAILABLE',
  'GOV_ERR_TASK_FAILED',
  'GOV_ERR_TASK_CANCELLED',
  'GOV_ERR_TASK_NOT_HANDLED',
  'GOV_ERR_RUN_CANCELLED',
  'GOV_ERR_AGENT_LOST',
  'GOV_ERR_SANDBOX_UNAVAILABLE',
  'GOV_ERR_CREDENTIALS_MISSING',
  'GOV_ERR_CREDENTIALS_INTERCEPTED',
  'GOV_ERR_MEMORY_NOT_FOUND',
  'GOV_ERR_MEMORY_TOO_LARGE',
  'GOV_ERR_CHECKPOINT_NOT_FOUND',
  'GOV_ERR_INVALID_TARGET',
  'GOV_ERR_NO_ELIGIBLE_AGENT',
  'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
  'GOV_ERR_RUN_CONTAINED',
  'GOV_ERR_RATE_LIMITED',
  'GOV_ERR_OVERLOADED',
] as const;

export interface GovErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Small, JSON-safe facts about the failure (never secrets). */
  details?: Record<string, unknown>;
}

/** Base class of every error this system raises on purpose. */
export class GovError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GovErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

function define<C extends ErrorCode>(code: C, name: string, retryableByDefault: boolean) {
  const cls = class extends GovError {
    static readonly code: C = code;
    constructor(message: string, options: GovErrorOptions = {}) {
      super(code, message, { retryable: retryableByDefault, ...options });
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  registry.set(code, cls);
  return cls;
}

type GovErrorClass = new (message: string, options?: GovErrorOptions) => GovError;
const registry = new Map<ErrorCode, GovErrorClass>();

export const InternalError = define('GOV_ERR_INTERNAL', 'InternalError', false);
export const TimeoutError = define('GOV_ERR_TIMEOUT', 'TimeoutError', true);
export const NoRespondersError = define('GOV_ERR_NO_RESPONDERS', 'NoRespondersError', true);
export const DecodeError = define('GOV_ERR_DECODE', 'DecodeError', false);
export const InvalidMessageError = define('GOV_ERR_INVALID_MESSAGE', 'InvalidMessageError', false);
export const PayloadTooLargeError = define('GOV_ERR_PAYLOAD_TOO_LARGE', 'PayloadTooLargeError', false);
export const UnknownSubjectError = define('GOV_ERR_UNKNOWN_SUBJECT', 'UnknownSubjectError', false);
export const UnhandledMessageError = define('GOV_ERR_UNHANDLED_MESSAGE', 'UnhandledMessageError', false);
export const InvalidSubjectTokenError = define(
  'GOV_ERR_INVALID_SUBJECT_TOKEN',
  'InvalidSubjectTokenError',
  false,
);
export const ActorStoppedError = define('GOV_ERR_ACTOR_STOPPED', 'ActorStoppedError', true);
export const ActorCrashedError = define('GOV_ERR_ACTOR_CRASHED', 'ActorCrashedError', true);
export const UnknownActorKindError = define('GOV_ERR_UNKNOWN_ACTOR_KIND', 'UnknownActorKindError', false);
export const BusClosedError = define('GOV_ERR_BUS_CLOSED', 'BusClosedError', false);
export const MissingBinaryError = define('GOV_ERR_MISSING_BINARY', 'MissingBinaryError', false);
export const ServiceStartError = define('GOV_ERR_SERVICE_START', 'ServiceStartError', true);
export const ConfigError = define('GOV_ERR_CONFIG', 'ConfigError', false);
export const TierForbiddenError = define('GOV_ERR_TIER_FORBIDDEN', 'TierForbiddenError', false);
export const PolicyViolationError = define('GOV_ERR_POLICY_VIOLATION', 'PolicyViolationError', false);
export const InvalidTransitionError = define('GOV_ERR_INVALID_TRANSITION', 'InvalidTransitionError', false);
export const NotFoundError = define('GOV_ERR_NOT_FOUND', 'NotFoundError', false);
export const PipelineInvalidError = define('GOV_ERR_PIPELINE_INVALID', 'PipelineInvalidError', false);
export const TokenRevokedError = define('GOV_ERR_TOKEN_REVOKED', 'TokenRevokedError', false);
export const TokenExpiredError = define('GOV_ERR_TOKEN_EXPIRED', 'TokenExpiredError', false);
export const VaultError = define('GOV_ERR_VAULT', 'VaultError', true);
export const BudgetExhaustedError = define('GOV_ERR_BUDGET_EXHAUSTED', 'BudgetExhaustedError', false);
export const UnauthenticatedError = define('GOV_ERR_UNAUTHENTICATED', 'UnauthenticatedError', false);
export const ForbiddenError = define('GOV_ERR_FORBIDDEN', 'ForbiddenError', false);
export const LedgerTamperedError = define('GOV_ERR_LEDGER_TAMPERED', 'LedgerTamperedError', false);
export const LedgerStoreError = define('GOV_ERR_LEDGER_STORE', 'LedgerStoreError', true);
export const EvidenceInvalidError = define('GOV_ERR_EVIDENCE_INVALID', 'EvidenceInvalidError', false);
export const AgentBusyError = define('GOV_ERR_AGENT_BUSY', 'AgentBusyError', true);
export const AgentUnavailableError = define('GOV_ERR_AGENT_UNAVAILABLE', 'AgentUnavailableError', true);
export const TaskFailedError = define('GOV_ERR_TASK_FAILED', 'TaskFailedError', false);
export const TaskCancelledError = define('GOV_ERR_TASK_CANCELLED', 'TaskCancelledError', false);
export const TaskNotHandledError = define('GOV_ERR_TASK_NOT_HANDLED', 'TaskNotHandledError', false);
export const RunCancelledError = define('GOV_ERR_RUN_CANCELLED', 'RunCancelledError', false);
export const AgentLostError = define('GOV_ERR_AGENT_LOST', 'AgentLostError', true);
export const SandboxUnavailableError = define(
  'GOV_ERR_SANDBOX_UNAVAILABLE',
  'SandboxUnavailableError',
  false,
);
export const CredentialsMissingError = define('GOV_ERR_CREDENTIALS_MISSING', 'CredentialsMissingError', true);
export const CredentialsInterceptedError = define(
  'GOV_ERR_CREDENTIALS_INTERCEPTED',
  'CredentialsInterceptedError',
  false,
);
export const MemoryNotFoundError = define('GOV_ERR_MEMORY_NOT_FOUND', 'MemoryNotFoundError', false);
export const MemoryTooLargeError = define('GOV_ERR_MEMORY_TOO_LARGE', 'MemoryTooLargeError', false);
export const CheckpointNotFoundError = define(
  'GOV_ERR_CHECKPOINT_NOT_FOUND',
  'CheckpointNotFoundError',
  false,
);
export const InvalidTargetError = define('GOV_ERR_INVALID_TARGET', 'InvalidTargetError', false);
export const NoEligibleAgentError = define('GOV_ERR_NO_ELIGIBLE_AGENT', 'NoEligibleAgentError', true);
export const ScheduleToStartTimeoutError = define(
  'GOV_ERR_SCHEDULE_TO_START_TIMEOUT',
  'ScheduleToStartTimeoutError',
  true,
);
export const RunContainedError = define('GOV_ERR_RUN_CONTAINED', 'RunContainedError', false);
export const RateLimitedError = define('GOV_ERR_RATE_LIMITED', 'RateLimitedError', true);
/** The service is saturated and refuses new work for now; `details.retryAfterMs` says when to try again. */
export const OverloadedError = define('GOV_ERR_OVERLOADED', 'OverloadedError', true);

/** Instance types of the classes above, so `err: TokenRevokedError` works in annotations. */
export type InternalError = InstanceType<typeof InternalError>;
export type TimeoutError = InstanceType<typeof TimeoutError>;
export type NoRespondersError = InstanceType<typeof NoRespondersError>;
export type DecodeError = InstanceType<typeof DecodeError>;
export type InvalidMessageError = InstanceType<typeof InvalidMessageError>;
export type PayloadTooLargeError = InstanceType<typeof PayloadTooLargeError>;
export type UnknownSubjectError = InstanceType<typeof UnknownSubjectError>;
export type UnhandledMessageError = InstanceType<typeof UnhandledMessageError>;
export type InvalidSubjectTokenError = InstanceType<typeof InvalidSubjectTokenError>;
export type ActorStoppedError = InstanceType<typeof ActorStoppedError>;
export type ActorCrashedError = InstanceType<typeof ActorCrashedError>;
export type UnknownActorKindError = InstanceType<typeof UnknownActorKindError>;
export type BusClosedError = InstanceType<typeof BusClosedError>;
export type MissingBinaryError = InstanceType<typeof MissingBinaryError>;
export type ServiceStartError = InstanceType<typeof ServiceStartError>;
export type ConfigError = InstanceType<typeof ConfigError>;
export type TierForbiddenError = InstanceType<typeof TierForbiddenError>;
export type PolicyViolationError = InstanceType<typeof PolicyViolationError>;
export type InvalidTransitionError = InstanceType<typeof InvalidTransitionError>;
export type NotFoundError = InstanceType<typeof NotFoundError>;
export type PipelineInvalidError = InstanceType<typeof PipelineInvalidError>;
export type TokenRevokedError = InstanceType<typeof TokenRevokedError>;
export type CredentialsInterceptedError = InstanceType<typeof CredentialsInterceptedError>;
export type TokenExpiredError = InstanceType<typeof TokenExpiredError>;
export type VaultError = InstanceType<typeof VaultError>;
export type BudgetExhaustedError = InstanceType<typeof BudgetExhaustedError>;
export type UnauthenticatedError = InstanceType<typeof UnauthenticatedError>;
export type ForbiddenError = InstanceType<typeof ForbiddenError>;
export type LedgerTamperedError = InstanceType<typeof LedgerTamperedError>;
export type LedgerStoreError = InstanceType<typeof LedgerStoreError>;
export type EvidenceInvalidError = InstanceType<typeof EvidenceInvalidError>;
export type AgentBusyError = InstanceType<typeof AgentBusyError>;
export type AgentUnavailableError = InstanceType<typeof AgentUnavailableError>;
export type TaskFailedError = InstanceType<typeof TaskFailedError>;
export type TaskCancelledError = InstanceType<typeof TaskCancelledError>;
export type TaskNotHandledError = InstanceType<typeof TaskNotHandledError>;
export type RunCancelledError = InstanceType<typeof RunCancelledError>;
export type AgentLostError = InstanceType<typeof AgentLostError>;
export type SandboxUnavailableError = InstanceType<typeof SandboxUnavailableError>;
export type CredentialsMissingError = InstanceType<typeof CredentialsMissingError>;
export type MemoryNotFoundError = InstanceType<typeof MemoryNotFoundError>;
export type MemoryTooLargeError = InstanceType<typeof MemoryTooLargeError>;
export type CheckpointNotFoundError = InstanceType<typeof CheckpointNotFoundError>;
export type InvalidTargetError = InstanceType<typeof InvalidTargetError>;
export type NoEligibleAgentError = InstanceType<typeof NoEligibleAgentError>;
export type ScheduleToStartTimeoutError = InstanceType<typeof ScheduleToStartTimeoutError>;
export type RunContainedError = InstanceType<typeof RunContainedError>;
export type RateLimitedError = InstanceType<typeof RateLimitedError>;

/** JSON form of an error, as carried in exit reports, dead letters and HTTP bodies. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
  cause?: string;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Any thrown value, as a GovError (unknown throwables become GOV_ERR_INTERNAL with the original as cause). */
export function toGovError(err: unknown): GovError {
  if (err instanceof GovError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

export function serializeError(err: unknown): SerializedError {
  const gov = toGovError(err);
  const out: SerializedError = { code: gov.code, message: gov.message, retryable: gov.retryable };
  if (gov.details) out.details = gov.details;
  const cause = gov.cause;
  if (cause !== undefined)
    out.cause = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return out;
}

/** Rebuilds the matching GovError subclass from its serialized form. */
export function deserializeError(s: SerializedError): GovError {
  const code = isErrorCode(s.code) ? s.code : 'GOV_ERR_INTERNAL';
  const Cls = registry.get(code) ?? InternalError;
  const err = new Cls(s.message, {
    retryable: s.retryable,
    details: s.details,
    cause: s.cause === undefined ? undefined : s.cause,
  });
  return err;
}

export const ERROR_HEADERS = {
  code: 'Gov-Error-Code',
  message: 'Gov-Error-Message',
  retryable: 'Gov-Error-Retryable',
  details: 'Gov-Error-Details',
  cause: 'Gov-Error-Cause',
} as const;

/** Header map for an error reply. Messages are single-line so they survive header encoding. */
export function errorToHeaders(err: unknown): Record<string, string> {
  const s = serializeError(err);
  const h: Record<string, string> = {
    [ERROR_HEADERS.code]: s.code,
    [ERROR_HEADERS.message]: oneLine(s.message),
    [ERROR_HEADERS.retryable]: String(s.retryable),
  };
  if (s.details) h[ERROR_HEADERS.details] = oneLine(JSON.stringify(s.details));
  if (s.cause) h[ERROR_HEADERS.cause] = oneLine(s.cause);
  return h;
}

/** Rebuilds an error from reply headers; undefined when the headers carry none. */
export function errorFromHeaders(get: (name: string) => string | undefined): GovError | undefined {
  const code = get(ERROR_HEADERS.code);
  if (!code) return undefined;
  let details: Record<string, unknown> | undefined;
  const rawDetails = get(ERROR_HEADERS.details);
  if (rawDetails) {
    try {
      details = JSON.parse(rawDetails) as Record<string, unknown>;
    } catch {
      details = { raw: rawDetails };
    }
  }
  return deserializeError({
    code: isErrorCode(code) ? code : 'GOV_ERR_INTERNAL',
    message: get(ERROR_HEADERS.message) ?? code,
    retryable: get(ERROR_HEADERS.retryable) === 'true',
    details,
    cause: get(ERROR_HEADERS.cause),
  });
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 2000);
}
