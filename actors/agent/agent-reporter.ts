/**
 * What the agent tells the world about itself: transitions, violations and command outcomes on the
 * feed (`gov.obs.agent.<id>`, `gov.obs.violation.<id>`), each also appended to the AUDIT stream
 * (`gov.audit.agent.agent-<id>`), and the failed result of a task lost to a restart.
 *
 * Publishing never crashes the agent: a failure is logged (and, for the audit, counted) and the
 * lifecycle goes on.
 *
 * Audits go through a transactional outbox kept in the lifecycle record (runtime/audit-outbox.ts,
 * DocumentOutbox): an event is stored by the record's next write — the transition's own, else one
 * asked for on the next microtask (`persist`) — and published once that write landed; a SIGKILL in
 * between leaves it in the record, published again (same id, stored once) at the next start. The
 * record lists its latest events' ids (`auditIds`). A command's reply and the agent's stop wait for
 * them (`flush`).
 */
import type { Bus } from '../../bus/index.ts';
import type { Clock, Logger } from '../../infra/index.ts';
import type { AnyEnvelope, BodyIn } from '../../protocols/index.ts';
import { ActorCrashedError, agentPrincipalName, serializeError, toGovError } from '../../protocols/index.ts';
import { AuditOutbox, DocumentOutbox, type OutboxEntry } from '../runtime/index.ts';
import { DEFAULT_AUDIT_TIMEOUT_MS } from './agent-options.ts';
import type { LifecycleContext, PolicyViolation } from './lifecycle-machine.ts';
import type { PersistedAgent, PersistedTaskRef } from './lifecycle-store.ts';
import { taskRef } from './task-host.ts';

type Tier = BodyIn<'agent.transition.v1'>['tier'];

/** One change of state or tier, as the agent saw it. */
export interface Transition {
  from: string;
  to: string;
  event: string;
  fromTier?: Tier;
  reason?: string;
}

export interface AgentReporterDeps {
  agentId: string;
  bus: Bus;
  log: Logger;
  clock: Clock;
  /** Writes the lifecycle record (which stores the outbox). */
  persist(): Promise<void>;
}

export class AgentReporter {
  private readonly doc = new DocumentOutbox();
  private readonly outbox: AuditOutbox;
  private closed = false;

  constructor(private readonly deps: AgentReporterDeps) {
    this.outbox = new AuditOutbox(deps.bus, this.doc, {
      log: deps.log,
      clock: deps.clock,
      metric: 'agent.outbox',
      ackTimeoutMs: DEFAULT_AUDIT_TIMEOUT_MS,
    });
  }

  /** Takes over a loaded record's outbox and publishes again what a SIGKILL left in it. */
  async restore(record: PersistedAgent): Promise<void> {
    this.doc.restore(record);
    await this.outbox.recover();
  }

  /** The outbox fields of the record about to be written, and the events it stores first. */
  forWrite(): { fields: Pick<PersistedAgent, 'outbox' | 'auditIds'>; fresh: OutboxEntry[] } {
    const fields = this.doc.document();
    return { fields, fresh: this.doc.takeUnstored() };
  }

  /** The write holding `fresh` landed: they may go out. */
  written(fresh: OutboxEntry[]): void {
    if (fresh.length > 0) void this.outbox.send(fresh);
  }

  /** The write failed (or was not needed): `fresh` waits for the next one. */
  notWritten(fresh: OutboxEntry[]): void {
    if (fresh.length > 0) this.doc.requeue(fresh);
  }

  /** Publishes agent.transition.v1 with the lifecycle's context after the transition. */
  transition(t: Transition, c: LifecycleContext, restarts: number): void {
    const agentId = this.deps.agentId;
    this.safely('transition', () => {
      const env = this.deps.bus.emit(['agent', agentId], {
        type: 'agent.transition.v1',
        body: {
          agentId,
          from: t.from,
          to: t.to,
          event: t.event,
          tier: c.tier,
          fromTier: t.fromTier ?? c.tier,
          team: c.team,
          role: c.role,
          restarts,
          ...(t.reason ? { reason: t.reason } : {}),
        },
      });
      this.audit(env);
    });
  }

  /** Publishes agent.violation.v1, naming the run and stage of the assignment that caused it. */
  violation(v: PolicyViolation, assign?: { runId: string; stageId: string }): void {
    const agentId = this.deps.agentId;
    this.safely('violation', () => {
      const env = this.deps.bus.emit(['violation', agentId], {
        type: 'agent.violation.v1',
        body: {
          agentId,
          kind: v.kind,
          tier: v.tier,
          reason: v.reason,
          ...(v.taskId ? { taskId: v.taskId } : {}),
          ...(v.taskKind ? { taskKind: v.taskKind } : {}),
          ...(v.requiredTier ? { requiredTier: v.requiredTier } : {}),
          ...(assign ? { runId: assign.runId, stageId: assign.stageId } : {}),
        },
      });
      this.audit(env);
    });
  }

  /** Publishes agent.command.outcome.v1: every command, applied or refused. */
  commandOutcome(body: BodyIn<'agent.command.outcome.v1'>): void {
    this.safely('command outcome', () => {
      const out = this.deps.bus.emit(['agent', this.deps.agentId], {
        type: 'agent.command.outcome.v1',
        body,
      });
      this.audit(out);
    });
  }

  /** Reports a task the agent was running when it died as failed (retryable) to its replyTo. */
  lostTask(lost: PersistedTaskRef): void {
    const agentId = this.deps.agentId;
    const error = new ActorCrashedError(`agent ${agentId} restarted while running task ${lost.taskId}`, {
      details: { agentId, taskId: lost.taskId },
    });
    this.safely('lost-task result', () =>
      this.deps.bus.tell(lost.replyTo, {
        type: 'agent.task.result.v1',
        body: {
          ...taskRef(lost),
          agentId,
          status: 'failed',
          error: serializeError(error),
          durationMs: 0,
        },
        run: lost.runId,
      }),
    );
  }

  /** Runs a publish; a failure is logged, never thrown. */
  safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.log.warn(`agent could not publish ${what}`, { error: toGovError(err).message });
    }
  }

  /** Resolves once every audit so far is stored and acknowledged (or waiting for a retry). */
  async flush(): Promise<void> {
    if (this.doc.hasUnstored) await this.deps.persist();
    await this.outbox.settled();
  }

  /** No retries from now on (a stop): what is unacknowledged stays in the record. */
  close(): void {
    this.closed = true;
    this.outbox.close();
  }

  /**
   * Appends an envelope to the AUDIT stream through the outbox, on the agent's own subject
   * (`gov.audit.agent.agent-<id>`, the only one its credential may publish on: the ledger's sender).
   */
  private audit(env: AnyEnvelope): void {
    this.doc.add({ category: 'agent', principal: agentPrincipalName(this.deps.agentId), env });
    queueMicrotask(() => {
      if (this.doc.hasUnstored && !this.closed) void this.deps.persist();
    });
  }
}
