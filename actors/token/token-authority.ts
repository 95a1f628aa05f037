/**
 * The token authority (kind `token-authority`): one Vault token per pipeline run, one child token per
 * agent working on it, revocation when the run ends, its budget is exhausted or a verified policy
 * violation is reported. See docs/governance.md.
 *
 * - Learns about runs from `gov.audit.run` with its own durable JetStream consumer (a restart misses nothing).
 * - Serves `token.issue.v1`, `token.revoke.v1`, `token.status.v1`, `violation.report.v1` on
 *   `gov.svc.token-authority` (and its inbox).
 * - Keeps run tokens' secrets in memory only (to create children); stores accessors in Redis.
 *   Child tokens go only to their agent's inbox, response-wrapped (`agent.credentials.v2`).
 * - Every issue / revoke / violation is published on the feed (`gov.obs.token.<accessor>`) and audited
 *   (`gov.audit.token`). `issued`, `child-issued` and `revoked` are implied by stored state: they go
 *   through the transactional outbox (runtime/audit-outbox.ts), stored in the same Redis transaction as
 *   the record (whose `auditIds`/`auditId` name them) and republished at start if a SIGKILL cut them off.
 */
import { ACTOR_KIND } from '../../protocols/index.ts';
import { Redis } from 'ioredis';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import { serializeError, toGovError } from '../../protocols/index.ts';
import type { BodyOf } from '../../protocols/index.ts';
import { feedToken } from '../../protocols/index.ts';
import {
  type ActorContext,
  AuditOutbox,
  defineActorKind,
  type OutboxEntry,
  refusing,
} from '../runtime/index.ts';
import { consumeRunEvents, publishFeedAndAudit } from '../../bus/index.ts';
import { KeyedLock } from '../../infra/index.ts';
import {
  DEFAULT_RUN_TOKEN_MAX_TTL_MS,
  type TokenAuthorityArgs,
  TokenAuthorityArgsSchema,
} from './token-options.ts';
import { policyDocuments } from './token-policy.ts';
import {
  childTokenPlan,
  childTokenRecord,
  revokedTombstone,
  runTokenPlan,
  runTokenRecord,
} from './token-requests.ts';
import { TokenStore } from './token-store.ts';
import { type IssueInput, type RevokeResult, RUN_END, type RunEvent } from './token-authority-types.ts';
import { VaultTokenClient } from './vault-client.ts';
import { tokenState } from './token-state.ts';
import { takeViolation } from './violation-intake.ts';
import { AgentChannel } from './agent-channel.ts';

export type { IssueInput, RevokeResult } from './token-authority-types.ts';
import { QuarantineStore } from '../error-budget/index.ts';

/** The authority's logic over its injected I/O (bus, Vault client, Redis store, clock). */
export class TokenAuthority {
  /** Run token secrets, by run id: memory only, needed to create child tokens. */
  private readonly secrets = new Map<string, string>();
  private readonly lock = new KeyedLock();
  private issued = 0;
  private revoked = 0;
  /** Audit events implied by stored token state (see the header). */
  readonly outbox: AuditOutbox;
  private readonly agents: AgentChannel;

  constructor(
    private readonly ctx: ActorContext,
    private readonly args: TokenAuthorityArgs,
    private readonly vault: VaultTokenClient,
    readonly store: TokenStore,
    readonly quarantine?: QuarantineStore,
  ) {
    if (!store.outbox) throw new Error('the token authority needs a token store with an outbox');
    this.outbox = new AuditOutbox(ctx.bus, store.outbox, {
      log: ctx.log,
      clock: ctx.clock,
      metric: 'token.outbox',
    });
    this.agents = new AgentChannel({ bus: ctx.bus, args });
  }

  /** Violations' quarantines whose cool-down is over (policy `cool-down`): released (T2). */
  async releaseDue(): Promise<void> {
    if (!this.quarantine) return;
    for (const agentId of await this.quarantine.due(this.ctx.clock.now())) {
      const hold = await this.quarantine.get(agentId);
      if (!hold || !(await this.quarantine.release(agentId))) continue;
      this.agents.command(agentId, 'release', 'quarantine cool-down over', hold.runId);
    }
  }

  status() {
    return { issued: this.issued, revoked: this.revoked, secretsHeld: this.secrets.size };
  }

  /** Writes the agov-run and agov-tier-* policies (Vault `sys/policy`). */
  async ensurePolicies(): Promise<void> {
    for (const [name, policy] of Object.entries(policyDocuments())) {
      const res = await fetch(`${this.args.vaultAddr.replace(/\/$/, '')}/v1/sys/policy/${name}`, {
        method: 'PUT',
        headers: { 'X-Vault-Token': this.args.vaultToken, 'Content-Type': 'application/json' },
        body: JSON.stringify({ policy }),
      });
      if (!res.ok) this.ctx.log.warn('could not write Vault policy', { name, status: res.status });
    }
  }

  /** An event implied by the state about to be stored: its entry goes into that state's write. */
  private prepared(msg: BodyOf<'token.event.v1'>): OutboxEntry {
    return this.outbox.prepare('token', { type: 'token.event.v1', body: msg, run: msg.runId }, [
      'token',
      feedToken(msg.accessor),
    ]);
  }

  private event(msg: BodyOf<'token.event.v1'>) {
    return publishFeedAndAudit(this.ctx.bus, ['token', feedToken(msg.accessor)], 'token', {
      type: 'token.event.v1',
      body: msg,
      run: msg.runId,
    });
  }

  // --- run events ----------------------------------------------------------------------------

  async onRunEvent(ev: RunEvent, env: Envelope): Promise<void> {
    const { runId } = ev;
    if (ev.agentId !== undefined && ev.agentEncoding !== undefined)
      this.agents.noteEncoding(ev.agentId, ev.agentEncoding);
    if ((ev.event === 'stage-accepted' || ev.event === 'stage-dispatched') && ev.agentId)
      await this.store.addAgent(runId, ev.agentId);
    switch (ev.event) {
      case 'run-accepted':
      case 'run-started': {
        const existing = await this.store.getRun(runId);
        if (existing) return;
        const maxTtl = ev.governance?.token.maxTtlMs ?? DEFAULT_RUN_TOKEN_MAX_TTL_MS;
        if (env.ts + maxTtl < this.ctx.clock.now()) return; // its token would be dead already (replayed history)
        await this.issue({
          runId,
          parentRunId: ev.parentRunId,
          pipeline: ev.governance?.pipeline,
          governance: ev.governance,
        });
        return;
      }
      case 'stage-accepted':
        if (ev.agentId) await this.issueChild(runId, ev.agentId, ev.stageId, ev.attempt);
        return;
      default:
        if (RUN_END[ev.event]) await this.revoke(runId, RUN_END[ev.event]!, this.ctx.address, false);
    }
  }

  // --- issue ---------------------------------------------------------------------------------

  issue(input: IssueInput): Promise<BodyOf<'token.issued.v1'>> {
    return this.lock.run(input.runId, async () => {
      const existing = await this.store.getRun(input.runId);
      if (existing) {
        return {
          runId: input.runId,
          accessor: existing.accessor,
          policies: existing.policies,
          expiresAt: existing.expiresAt,
          maxExpiresAt: existing.maxExpiresAt,
          created: false,
        };
      }
      const plan = runTokenPlan(input);
      const now = this.ctx.clock.now();
      const token = await this.vault.createToken(plan.request);
      this.secrets.set(input.runId, token.token);
      const rec = runTokenRecord(input, plan, token, now);
      const issued = this.prepared({
        runId: input.runId,
        action: 'issued',
        accessor: token.accessor,
        policies: token.policies,
        expiresAt: rec.expiresAt,
        ttlMs: token.leaseDurationS * 1000,
      });
      rec.auditIds = [issued.env.id];
      await this.store.createRun(rec, { renewAt: now + plan.renewEveryMs, outbox: [issued] });
      this.issued++;
      await this.outbox.send([issued]);
      return {
        runId: input.runId,
        accessor: token.accessor,
        policies: token.policies,
        expiresAt: rec.expiresAt,
        maxExpiresAt: rec.maxExpiresAt,
        created: true,
      };
    });
  }

  /** A child token for one agent's stage attempt, delivered to that agent's inbox only. */
  issueChild(
    runId: string,
    agentId: string,
    stageId: string | undefined,
    attempt: number | undefined,
  ): Promise<void> {
    return this.lock.run(runId, async () => {
      const run = await this.store.getRun(runId);
      if (!run?.accessor || run.state !== 'live') {
        this.ctx.log.info('no live run token: no child token', { runId, agentId });
        return;
      }
      const key = `${agentId}/${stageId ?? '-'}/${attempt ?? 0}`;
      if (await this.store.hasChild(runId, key)) return;
      const now = this.ctx.clock.now();
      const { tier, request } = childTokenPlan(runId, run, agentId, stageId, now);
      const secret = this.secrets.get(runId);
      // After a restart the run token's secret is gone: the child is then made by the authority's own
      // token and revoked explicitly with the run (descendant: false).
      const child = secret
        ? await this.vault.createChildToken(secret, request)
        : await this.vault.createToken(request);
      const rec = childTokenRecord(child, { agentId, stageId, attempt }, tier, now, secret !== undefined);
      const issued = this.prepared({
        runId,
        action: 'child-issued',
        accessor: child.accessor,
        parentAccessor: run.accessor,
        agentId,
        policies: child.policies,
        expiresAt: rec.expiresAt,
      });
      rec.auditId = issued.env.id;
      await this.store.addChild(runId, key, rec, [issued]);
      await this.agents.sendChildToken({ runId, agentId, stageId, attempt, expiresAt: rec.expiresAt }, child);
      await this.outbox.send([issued]);
    });
  }

  // --- revoke --------------------------------------------------------------------------------

  /**
   * Revokes the run token and its children. Then suspends: `agents` when given (only those: the ones
   * the evidence points at), else every agent of the run when `suspendAgents`.
   */
  revoke(
    runId: string,
    reason: string,
    by: string,
    suspendAgents: boolean,
    agents?: { ids: string[]; command: 'suspend' | 'quarantine' },
  ): Promise<RevokeResult> {
    const suspendWanted = suspendAgents || agents !== undefined;
    return this.lock.run(runId, async () => {
      const now = this.ctx.clock.now();
      // One round trip for both (a breach waits on this revoke before its run counts as contained).
      const [run, children] = await Promise.all([this.store.getRun(runId), this.store.children(runId)]);
      if (!run) {
        // Revoked before any token: leave a tombstone so a late run-accepted issues nothing.
        await this.store.createRun(revokedTombstone(runId, reason, now));
        const suspended = suspendWanted ? await this.suspend(runId, undefined, reason, agents) : [];
        return { runId, revoked: false, revokedAt: now, reason, suspendedAgents: suspended };
      }
      if (run.state === 'revoked') {
        const suspended = suspendWanted ? await this.suspend(runId, run.accessor, reason, agents) : [];
        return {
          runId,
          accessor: run.accessor || undefined,
          revoked: false,
          revokedAt: run.revokedAt ?? now,
          reason: run.revokedReason ?? reason,
          suspendedAgents: suspended,
        };
      }
      let found: boolean;
      try {
        found = await this.vault.revokeAccessor(run.accessor);
        for (const c of children) if (!c.descendant) await this.vault.revokeAccessor(c.accessor);
      } catch (err) {
        await this.event({
          runId,
          action: 'revoke-failed',
          accessor: run.accessor,
          reason,
          by,
          error: serializeError(err),
        });
        throw err;
      }
      const revoked = this.prepared({
        runId,
        action: 'revoked',
        accessor: run.accessor,
        childAccessors: children.map((c) => c.accessor),
        reason,
        by,
      });
      await this.store.revokeRun(
        runId,
        {
          state: 'revoked',
          revokedAt: now,
          revokedReason: reason,
          auditIds: [...(run.auditIds ?? []), revoked.env.id],
        },
        [revoked],
      );
      this.secrets.delete(runId);
      this.revoked++;
      await this.outbox.send([revoked]);
      const suspended = suspendWanted ? await this.suspend(runId, run.accessor, reason, agents) : [];
      return {
        runId,
        accessor: run.accessor,
        revoked: found,
        revokedAt: now,
        reason,
        suspendedAgents: suspended,
      };
    });
  }

  /** Tells the given agents (else every agent of the run) to suspend or quarantine (agent.command.v1 from T2), then reports it. */
  private async suspend(
    runId: string,
    accessor: string | undefined,
    reason: string,
    only?: { ids: string[]; command: 'suspend' | 'quarantine' },
  ): Promise<string[]> {
    const agents = only ? [...new Set(only.ids)].sort() : await this.store.agents(runId);
    for (const agentId of agents) {
      this.agents.command(agentId, only?.command ?? 'suspend', reason, runId);
    }
    await this.ctx.bus.flush();
    await this.event({
      runId,
      action: 'agents-suspended',
      accessor: accessor || undefined,
      agentIds: agents,
      reason,
    });
    return agents;
  }

  // --- violations ----------------------------------------------------------------------------

  /** A violation report: see violation-intake.ts. */
  violation(env: Envelope<'violation.report.v1'>): Promise<RevokeResult> {
    return takeViolation(
      {
        bus: this.ctx.bus,
        clock: this.ctx.clock,
        args: this.args,
        store: this.store,
        quarantine: this.quarantine,
        event: (msg) => this.event(msg),
        revoke: (...a) => this.revoke(...a),
      },
      env,
    );
  }

  // --- status --------------------------------------------------------------------------------

  state(runId: string | undefined, accessor: string | undefined): Promise<BodyOf<'token.state.v1'>> {
    return tokenState(this.store, this.ctx.clock.now(), runId, accessor);
  }

  async handle(env: Envelope): Promise<OutMessage | undefined> {
    switch (env.type) {
      case 'token.issue.v1': {
        const b = env.body;
        return {
          type: 'token.issued.v1',
          body: await this.issue({
            runId: b.runId,
            pipeline: b.pipeline,
            parentRunId: b.parentRunId,
            governance: b.governance,
          }),
        };
      }
      case 'token.revoke.v1': {
        const b = env.body;
        return {
          type: 'token.revoked.v1',
          body: await this.revoke(
            b.runId,
            b.reason,
            b.by ?? env.from,
            b.suspendAgents,
            b.quarantineAgents ? { ids: b.quarantineAgents, command: 'suspend' } : undefined,
          ),
        };
      }
      case 'token.status.v1':
        return { type: 'token.state.v1', body: await this.state(env.body.runId, env.body.accessor) };
      case 'violation.report.v1':
        return { type: 'token.revoked.v1', body: await this.violation(env) };
      default:
        return undefined;
    }
  }
}

export const tokenAuthorityKind = defineActorKind({
  kind: ACTOR_KIND.tokenAuthority,
  description: 'issues, scopes and revokes Vault tokens of pipeline runs and their agents',
  args: TokenAuthorityArgsSchema,
  async start(ctx) {
    const args = ctx.args;
    const redis = ctx.hold(new Redis(args.redisUrl, { maxRetriesPerRequest: 3 }), (r) => r.disconnect());
    const vault = new VaultTokenClient({ addr: args.vaultAddr, token: args.vaultToken, clock: ctx.clock });
    const authority = new TokenAuthority(
      ctx,
      args,
      vault,
      new TokenStore(redis, args.keyPrefix, `${ctx.kind}:${ctx.id}`),
      new QuarantineStore(redis, args.quarantineKeyPrefix),
    );
    let consumer: { stop(): Promise<void> } | undefined;
    try {
      // Events a SIGKILL cut off between their state's write and their publish, before anything new.
      await authority.outbox.recover();
      if (args.ensurePolicies) await authority.ensurePolicies();
      consumer = await consumeRunEvents(
        ctx.bus,
        {
          durable: args.durable,
          startFrom: args.startFrom,
          ackWaitMs: args.ackWaitMs,
          retryMs: args.eventRetryMs,
          log: ctx.log,
          onEnd: (err) => ctx.crash(err),
        },
        (env) => authority.onRunEvent(env.body, env),
      );
    } catch (err) {
      redis.disconnect();
      throw toGovError(err);
    }
    const poll = ctx.clock.setInterval(
      () =>
        void authority
          .releaseDue()
          .catch((err: unknown) => ctx.log.warn('quarantine release failed', { error: String(err) })),
      args.quarantinePollMs,
    );
    return {
      accepts: ['token.issue.v1', 'token.revoke.v1', 'token.status.v1', 'violation.report.v1'],
      status: () => authority.status(),
      handle: (env) => refusing(() => authority.handle(env)),
      async stop() {
        ctx.clock.clear(poll);
        await consumer?.stop();
        await authority.outbox.settled();
        authority.outbox.close();
        redis.disconnect();
      },
    };
  },
});
