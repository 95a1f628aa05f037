/**
 * Every NATS subject of the system is built here and nowhere else.
 *
 * Layout (all under the `gov.` root):
 * - `gov.actor.<kind>.<id>`        one actor's inbox (tell/ask a specific actor)
 * - `gov.svc.<kind>`               any actor of a kind (queue group: work is spread across instances)
 * - `gov.sys.hb.<kind>.<id>`       heartbeats
 * - `gov.sys.started.<kind>.<id>`  an actor finished starting
 * - `gov.sys.exit.<kind>.<id>`     exit reports (normal, shutdown, crash) consumed by supervisors
 * - `gov.agents.register.<tier>.<id>` agents announce themselves (agent.register.v1); tier and id are the credential's
 * - `gov.errors.<runId>`           error-budget reports of one run (budget.report.v1)
 * - `gov.contain.<runId>`          containment orders for one run (run.contain.v1; budget monitor, token authority)
 * - `gov.dlq.<code>`               dead letters, by error code
 * - `gov.audit.<category>[.<principal>]` auditable events (JetStream stream AUDIT, consumed by the ledger
 *                                  writer); an agent's on `gov.audit.agent.<its id>`, the ledger's verified sender
 * - `gov.results.<kind>.<agentId>` task progress and results an agent tells an actor of `kind` (the assign's
 *                                  `replyTo`; JetStream stream RESULTS); the broker checks the agent id
 * - `gov.obs.<category>.…`         the external observability feed (JSON)
 * - `gov.ctl.<tier>.<principal>`   operator controls (control.command.v1); the broker lets a principal
 *                                  publish only with its own name and its credential's tier
 * - `gov.ctx.<kind>.<tier>.<principal>` context requests to the memory, work-status and checkpoint
 *                                  services, with the same rule: tier and principal are the credential's
 *
 * Tokens are validated: letters, digits, `_` and `-` only (no `.`, `*`, `>` or whitespace), 1–128 chars,
 * so an id can never inject wildcards or extra levels.
 */
import { InvalidSubjectTokenError } from './vocabulary/errors.ts';

export const SUBJECT_ROOT = 'gov';
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** Throws InvalidSubjectTokenError unless `value` is a safe single subject token. */
export function subjectToken(value: string, what = 'token'): string {
  if (typeof value !== 'string' || !TOKEN_RE.test(value)) {
    throw new InvalidSubjectTokenError(
      `invalid ${what} ${JSON.stringify(value)}: use 1-128 letters, digits, '_' or '-'`,
      { details: { what, value: String(value).slice(0, 200) } },
    );
  }
  return value;
}

export function isSubjectToken(value: string): boolean {
  return typeof value === 'string' && TOKEN_RE.test(value);
}

const join = (...tokens: string[]) => [SUBJECT_ROOT, ...tokens].join('.');

/** @example actorInbox('echo', 'e1') === 'gov.actor.echo.e1' */
export function actorInbox(kind: string, id: string): string {
  return join('actor', subjectToken(kind, 'actor kind'), subjectToken(id, 'actor id'));
}

/** @example serviceSubject('orchestrator') === 'gov.svc.orchestrator' */
export function serviceSubject(kind: string): string {
  return join('svc', subjectToken(kind, 'actor kind'));
}

/** Queue group shared by every instance of a kind on its service subject. */
export function serviceQueue(kind: string): string {
  return `q-${subjectToken(kind, 'actor kind')}`;
}

export function heartbeatSubject(kind: string, id: string): string {
  return join('sys', 'hb', subjectToken(kind, 'actor kind'), subjectToken(id, 'actor id'));
}

export function startedSubject(kind: string, id: string): string {
  return join('sys', 'started', subjectToken(kind, 'actor kind'), subjectToken(id, 'actor id'));
}

export function exitSubject(kind: string, id: string): string {
  return join('sys', 'exit', subjectToken(kind, 'actor kind'), subjectToken(id, 'actor id'));
}

/** Wildcards for watchers (supervisors, status API, tests). */
export const allHeartbeats = (): string => join('sys', 'hb', '>');
/** Every agent's inbox (`gov.actor.agent.*`): the credential authority watches the commands sent there. */
export const allAgentInboxes = (): string => join('actor', 'agent', '*');
/** Every agent's exit report (`gov.sys.exit.agent.*`). */
export const allAgentExits = (): string => join('sys', 'exit', 'agent', '*');
export const allExits = (): string => join('sys', 'exit', '>');
export const allStarted = (): string => join('sys', 'started', '>');

/**
 * An agent announces itself on `gov.agents.register.<tier>.<agentId>` (agent.register.v1). The broker
 * lets an agent publish only under its own id at its credential's tier (protocols/permissions.ts), so
 * receivers take both from the subject ({@link registrationSenderOf}), never from the body.
 */
export function agentRegisterSubject(tier: string, agentId: string): string {
  return join('agents', 'register', subjectToken(tier, 'tier'), subjectToken(agentId, 'agent id'));
}
/**
 * An agent stores a task's spilled output in memory (memory.put.v1, the claim check) on
 * `gov.memory.put.<tier>.<agentId>`: the broker lets only T1+ agents publish there, under their own id
 * at their credential's tier, so the memory actor takes tier and author from the subject.
 */
export function memoryPutSubject(tier: string, agentId: string): string {
  return join('memory', 'put', subjectToken(tier, 'tier'), subjectToken(agentId, 'agent id'));
}
/** Every agent's memory put (the memory actor listens here). */
export const allMemoryPuts = (): string => join('memory', 'put', '>');

/** The tier and agent id a memory-put subject names, else undefined. */
export function memoryPutSenderOf(subject: string): { tier: string; agentId: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts.slice(0, 3).join('.') !== join('memory', 'put')) return undefined;
  if (!isSubjectToken(parts[3]!) || !isSubjectToken(parts[4]!)) return undefined;
  return { tier: parts[3]!, agentId: parts[4]! };
}

/** Every registration (orchestrators and the agent directory listen here). */
export const allAgentRegistrations = (): string => join('agents', 'register', '>');

/** The tier and agent id a registration subject names, else undefined. */
export function registrationSenderOf(subject: string): { tier: string; agentId: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts.slice(0, 3).join('.') !== join('agents', 'register')) return undefined;
  if (!isSubjectToken(parts[3]!) || !isSubjectToken(parts[4]!)) return undefined;
  return { tier: parts[3]!, agentId: parts[4]! };
}

/**
 * The actor id a heartbeat subject names (`gov.sys.hb.<kind>.<id>`), which only that actor's credential
 * may publish on: a heartbeat whose body names another actor is a forgery.
 */
export function heartbeatSenderOf(subject: string): { kind: string; id: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts.slice(0, 3).join('.') !== join('sys', 'hb')) return undefined;
  return parseActorSubject(subject);
}

/**
 * Outcomes counted against a run's error budget (`budget.report.v1`), one subject per run so a tool
 * that knows only its PIPELINE_ID can report. @example errorsSubject('r-42') === 'gov.errors.r-42'
 */
export function errorsSubject(runId: string): string {
  return join('errors', subjectToken(runId, 'run id'));
}
export const allErrors = (): string => join('errors', '>');

/**
 * Where a run's containment order goes (run.contain.v1). Every orchestrator listens; only the budget
 * monitor and the token authority may publish here (protocols/permissions.ts), so the order's authority
 * comes from the sender's credential. @example containSubject('r-42') === 'gov.contain.r-42'
 */
export function containSubject(runId: string): string {
  return join('contain', subjectToken(runId, 'run id'));
}
export const allContain = (): string => join('contain', '*');

/** Dead letters are published per error code so operators can subscribe to one kind of failure. */
export function deadLetterSubject(code: string): string {
  return join('dlq', subjectToken(code, 'error code'));
}
export const allDeadLetters = (): string => join('dlq', '>');
/** The JSON feed's copy of a dead letter: summarised, never the bytes (`gov.obs.dlq.<code>`). */
export function deadLetterFeedSubject(code: string): string {
  return obsSubject('dlq', code);
}

/** Auditable events; the AUDIT JetStream stream captures `gov.audit.>`. */
export function auditSubject(category: string, principal?: string): string {
  const base = join('audit', subjectToken(category, 'audit category'));
  return principal === undefined ? base : `${base}.${subjectToken(principal, 'audit principal')}`;
}

/**
 * The principal an audit subject names (`gov.audit.<category>.<principal>`), undefined for a subject
 * without one. Authenticated when the broker lets each principal publish only on its own audit
 * subjects (protocols/permissions.ts): the ledger records it as the entry's `sender`.
 */
export function auditSenderOf(subject: string): string | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== join('audit')) return undefined;
  return parts[3] || undefined;
}
export const allAudit = (): string => join('audit', '>');
/** Every audit event of a category, whoever published it: `gov.audit.<category>.*`. */
export function auditPublishers(category: string): string {
  return `${join('audit', subjectToken(category, 'audit category'))}.*`;
}

/**
 * Where agents tell task progress and results for actors of `kind` (the assign's `replyTo`). The
 * RESULTS JetStream stream captures `gov.results.>`, so a result published while no such actor runs
 * waits there for the next one. @example resultsSubject('orchestrator') === 'gov.results.orchestrator'
 */
export function resultsSubject(kind: string): string {
  return join('results', subjectToken(kind, 'actor kind'));
}
export const allResults = (): string => join('results', '>');

/**
 * The `replyTo` an actor of `kind` gives agent `agentId` in an assign: `gov.results.<kind>.<agentId>`.
 * The broker lets an agent publish only on results subjects ending in its own id
 * (protocols/permissions.ts), so the receiver reads the reporting agent from the subject
 * ({@link resultsSenderOf}), never from the body. @example agentResultsSubject('orchestrator', 'a1') === 'gov.results.orchestrator.a1'
 */
export function agentResultsSubject(kind: string, agentId: string): string {
  return join('results', subjectToken(kind, 'actor kind'), subjectToken(agentId, 'agent id'));
}
/** Every agent's reports to actors of `kind` (`gov.results.<kind>.*`). */
export function allAgentResults(kind: string): string {
  return join('results', subjectToken(kind, 'actor kind'), '*');
}

/** The kind and reporting agent an agent-results subject names (`gov.results.<kind>.<agentId>`), else undefined. */
export function resultsSenderOf(subject: string): { kind: string; agentId: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== join('results')) return undefined;
  if (!isSubjectToken(parts[2]!) || !isSubjectToken(parts[3]!)) return undefined;
  return { kind: parts[2]!, agentId: parts[3]! };
}

/**
 * The external observability feed (JSON). `category` is e.g. `actor`, `agent`, `run`, `token`, `budget`.
 * @example obsSubject('run', 'r-42') === 'gov.obs.run.r-42'
 */
export function obsSubject(category: string, ...rest: string[]): string {
  return join(
    'obs',
    subjectToken(category, 'feed category'),
    ...rest.map((t) => subjectToken(t, 'feed token')),
  );
}
export const allObs = (): string => join('obs', '>');
/** Every run's events on the feed (`gov.obs.run.<runId>`: run.event.v1). */
export const allRunFeeds = (): string => join('obs', 'run', '>');

/** Every agent's lifecycle feed (`gov.obs.agent.<agentId>`: agent.transition.v1, agent.command.outcome.v1). */
export const allAgentFeeds = (): string => join('obs', 'agent', '>');
/** Every policy violation on the feed (`gov.obs.violation.<agentId>`: agent.violation.v1). */
export const allViolationFeeds = (): string => join('obs', 'violation', '>');

/**
 * Operator controls (control.command.v1) sent by `principal` with the authority of `tier`. Only the
 * tiers and names protocols/permissions.ts grants a principal can be published to, so the receiver
 * reads both from the subject. @example controlSubject('T2', 'client-agov') === 'gov.ctl.T2.client-agov'
 */
export function controlSubject(tier: string, principal: string): string {
  return join('ctl', subjectToken(tier, 'tier'), subjectToken(principal, 'control principal'));
}
export const allControl = (): string => join('ctl', '>');

/** The tier and principal a control subject names (`gov.ctl.<tier>.<principal>`), else undefined. */
export function controlSenderOf(subject: string): { tier: string; principal: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== join('ctl')) return undefined;
  if (!isSubjectToken(parts[2]!) || !isSubjectToken(parts[3]!)) return undefined;
  return { tier: parts[2]!, principal: parts[3]! };
}

/**
 * Context requests (memory, work status, checkpoints) sent by `principal` with the authority of `tier`:
 * as for operator controls, the broker lets a principal publish only under its own name at the tier its
 * credential grants, so the service reads both from the subject and never from the body.
 * @example contextSubject('memory', 'T2', 'client-agov') === 'gov.ctx.memory.T2.client-agov'
 */
export function contextSubject(kind: string, tier: string, principal: string): string {
  return join(
    'ctx',
    subjectToken(kind, 'context service'),
    subjectToken(tier, 'tier'),
    subjectToken(principal, 'context principal'),
  );
}
/** Every context request to the service of `kind` (it listens here). */
export const allContextRequests = (kind: string): string =>
  join('ctx', subjectToken(kind, 'context service'), '*', '*');

/** The kind, tier and principal a context subject names (`gov.ctx.<kind>.<tier>.<principal>`), else undefined. */
export function contextSenderOf(
  subject: string,
): { kind: string; tier: string; principal: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || `${parts[0]}.${parts[1]}` !== join('ctx')) return undefined;
  if (!parts.slice(2).every(isSubjectToken)) return undefined;
  return { kind: parts[2]!, tier: parts[3]!, principal: parts[4]! };
}

/** Parses the kind and id out of a per-actor subject (`gov.sys.hb.<kind>.<id>` etc.). */
export function parseActorSubject(subject: string): { kind: string; id: string } | undefined {
  const parts = subject.split('.');
  if (parts.length < 2) return undefined;
  const id = parts[parts.length - 1]!;
  const kind = parts[parts.length - 2]!;
  return isSubjectToken(kind) && isSubjectToken(id) ? { kind, id } : undefined;
}

/** How many tokens follow `gov.<root>` on each subject family (`Infinity`: any number ≥ 1). */
const SUBJECT_GRAMMAR: Record<string, number> = {
  actor: 2,
  svc: 1,
  sys: 3,
  agents: 3,
  errors: 1,
  contain: 1,
  dlq: 1,
  audit: 1,
  results: 1,
  ctl: 2,
  ctx: 3,
  memory: 3,
  obs: Number.POSITIVE_INFINITY,
};

/**
 * Whether a concrete subject belongs to the protocol (one of the families above, with valid tokens).
 * Used to tell a typo (`GOV_ERR_UNKNOWN_SUBJECT`) from an actor that is down (`GOV_ERR_NO_RESPONDERS`).
 *
 * @example isKnownSubject('gov.actor.echo.e1') === true; isKnownSubject('gov.actors.echo') === false
 */
export function isKnownSubject(subject: string): boolean {
  const [root, family, ...rest] = subject.split('.');
  if (root !== SUBJECT_ROOT || family === undefined || !Object.hasOwn(SUBJECT_GRAMMAR, family)) return false;
  if (!rest.every(isSubjectToken)) return false;
  const arity = SUBJECT_GRAMMAR[family]!;
  if (family === 'sys' && !['hb', 'started', 'exit'].includes(rest[0] ?? '')) return false;
  // `gov.audit.<category>[.<principal>]`, `gov.results.<kind>[.<agentId>]`.
  if ((family === 'audit' || family === 'results') && rest.length === 2) return true;
  return arity === Number.POSITIVE_INFINITY ? rest.length >= 1 : rest.length === arity;
}

/** A feed token for a value that may not be one (an accessor from a foreign Vault, an odd run id). */
export function feedToken(value: string | undefined): string {
  return value && isSubjectToken(value) ? value : 'unknown';
}
