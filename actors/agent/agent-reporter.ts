/**
 * What the agent tells the world about itself: transitions, violations and command outcomes on the
 * feed (`gov.obs.agent.<id>`, `gov.obs.violation.<id>`), each also appended to the AUDIT stream
 * (`gov.audit.agent`), and the failed result of a task lost to a restart.
 *
 * Publishing never crashes the agent: a failure is logged (and, for the audit, counted) and the
 * lifecycle goes on. Audits in flight are kept so a command's reply, and the agent's stop, can wait
 * for them.
 */
import type { Bus } from '../../bus/index.ts';
import type { Logger } from '../../infra/index.ts';
import type { AnyEnvelope, BodyIn } from '../../protocols/index.ts';
import { ActorCrashedError, auditSubject, serializeError, toGovError } from '../../protocols/index.ts';
import { DEFAULT_AUDIT_TIMEOUT_MS } from './agent-options.ts';
import type { LifecycleContext, PolicyViolation } from './lifecycle-machine.ts';
import type { PersistedTaskRef } from './lifecycle-store.ts';
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
}

export class AgentReporter {
  private readonly audits = new Set<Promise<void>>();

  constructor(private readonly deps: AgentReporterDeps) {}

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

  /** Resolves once every audit started so far has been acknowledged or has failed. */
  async flush(): Promise<void> {
    await Promise.all([...this.audits]);
  }

  /** Appends an envelope to the AUDIT stream (gov.audit.agent); failures are logged and counted. */
  private audit(env: AnyEnvelope): void {
    const { bus, log } = this.deps;
    const p = bus.publishDurable(auditSubject('agent'), env, { timeoutMs: DEFAULT_AUDIT_TIMEOUT_MS }).then(
      () => undefined,
      (err: unknown) => {
        bus.metrics.inc('agent.audit.failed');
        log.warn('audit publish failed', { type: env.type, error: toGovError(err).message });
      },
    );
    this.audits.add(p);
    void p.then(() => this.audits.delete(p));
  }
}
