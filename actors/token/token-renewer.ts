/**
 * The token renewer (kind `token-renewer`): renews every live run token (and its agents' child
 * tokens) every `renewEveryMs` (30 min by default) by accessor, never past the token's explicit max
 * TTL: the renewal that reaches it is the last one, reported as `max-ttl-reached`. Failures are
 * reported (feed + audit) and retried. The schedule lives in Redis (`agov:token:renew`), so a
 * restarted renewer carries on. Time is the injected Clock's. See docs/governance.md.
 *
 * `renewed` and `max-ttl-reached` change the run's record, so they go through the transactional
 * outbox (runtime/audit-outbox.ts): stored by the same script that writes the record (their ids in its
 * `auditIds`), published once it is stored, and published again at the next start when a SIGKILL cut
 * that off. Failures change no record the ledger is checked against and are delivered at least once
 * while the process lives.
 */
import { feedToken } from '../../protocols/subjects.ts';
import { Redis } from 'ioredis';
import type { TimerHandle } from '../../infra/index.ts';
import type { BodyOf } from '../../protocols/index.ts';
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import { serializeError, TokenExpiredError, TokenRevokedError } from '../../protocols/index.ts';
import { type ActorContext, defineActorKind, refusing } from '../runtime/index.ts';
import { publishFeedAndAudit } from '../../bus/index.ts';
import { AuditOutbox, type OutboxEntry } from '../runtime/audit-outbox.ts';
import { decideRenewal, nextRenewalAt, retryAt, toVaultSeconds } from './renewal-schedule.ts';
import { ACTOR_KIND } from '../../protocols/index.ts';
import { type TokenRenewerArgs, TokenRenewerArgsSchema } from './token-options.ts';
import { type RunTokenRecord, TokenStore } from './token-store.ts';
import { VaultTokenClient } from './vault-client.ts';

type Renewed = BodyOf<'token.renewed.v1'>['runs'][number];

export class TokenRenewer {
  private running: Promise<Renewed[]> | undefined;
  private again = false;
  renewals = 0;
  failures = 0;
  /** Events implied by the records it writes (see the header). */
  readonly outbox: AuditOutbox;

  constructor(
    private readonly ctx: ActorContext,
    private readonly args: TokenRenewerArgs,
    private readonly vault: VaultTokenClient,
    readonly store: TokenStore,
  ) {
    if (!store.outbox) throw new Error('the token renewer needs a token store with an outbox');
    this.outbox = new AuditOutbox(ctx.bus, store.outbox, {
      log: ctx.log,
      clock: ctx.clock,
      metric: 'renewer.outbox',
    });
  }

  /** An event of a record change, its envelope fixed before the write that stores it. */
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

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** Runs one pass over due tokens; calls while a pass runs coalesce into one more pass. */
  tick(): Promise<Renewed[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      const out: Renewed[] = [];
      do {
        this.again = false;
        for (const runId of await this.store.dueRenewals(this.ctx.clock.now())) {
          const r = await this.renewRun(runId, false);
          if (r) out.push(r);
        }
      } while (this.again);
      return out;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Renews one run's token if due (or at once with `force`). */
  async renewRun(runId: string, force: boolean): Promise<Renewed | undefined> {
    const run = await this.store.getRun(runId);
    if (!run?.accessor || run.state !== 'live') {
      await this.store.unscheduleRenewal(runId);
      return undefined;
    }
    const now = this.ctx.clock.now();
    const scheduled = (await this.store.scheduled()).find((s) => s.runId === runId)?.at ?? now;
    const decision = decideRenewal(
      {
        ttlMs: run.ttlMs,
        renewEveryMs: run.renewEveryMs,
        maxExpiresAt: run.maxExpiresAt,
        nextRenewAt: force ? now : scheduled,
      },
      now,
    );
    if (decision.action === 'wait') return undefined;
    if (decision.action === 'at-max') {
      await this.reachedMax(run);
      return undefined;
    }
    try {
      const renewed = await this.vault.renewAccessor(run.accessor, toVaultSeconds(decision.incrementMs));
      const expiresAt = now + renewed.leaseDurationS * 1000;
      const last = decision.last || expiresAt >= run.maxExpiresAt - 1_000;
      const event = this.prepared({
        runId,
        action: 'renewed',
        accessor: run.accessor,
        expiresAt,
        ttlMs: renewed.leaseDurationS * 1000,
      });
      const wrote = await this.store.updateRunIfLive(
        runId,
        { expiresAt, renewals: run.renewals + 1, lastRenewedAt: now },
        [event],
      );
      if (!wrote) {
        await this.store.unscheduleRenewal(runId);
        return undefined;
      }
      this.renewals++;
      await this.outbox.send([event]);
      await this.renewChildren(run, decision.incrementMs);
      if (last) await this.reachedMax({ ...run, expiresAt });
      else await this.store.scheduleRenewal(runId, nextRenewalAt(run.renewEveryMs, now));
      return { runId, accessor: run.accessor, expiresAt, renewals: run.renewals + 1, atMaxTtl: last };
    } catch (err) {
      this.failures++;
      const gone = err instanceof TokenRevokedError || err instanceof TokenExpiredError;
      const fresh = await this.store.getRun(runId);
      if (fresh?.state !== 'live') {
        await this.store.unscheduleRenewal(runId); // revoked meanwhile: nothing to report
        return undefined;
      }
      await this.event({
        runId,
        action: 'renewal-failed',
        accessor: run.accessor,
        reason: gone ? 'token gone' : 'vault error',
        error: serializeError(err),
      });
      if (gone) {
        await this.store.updateRunIfLive(runId, {
          state: err instanceof TokenExpiredError ? 'expired' : 'revoked',
          revokedAt: now,
          revokedReason: 'lost',
        });
        await this.store.unscheduleRenewal(runId);
      } else {
        await this.store.scheduleRenewal(runId, retryAt(now, this.args.retryMs, run.expiresAt));
      }
      return undefined;
    }
  }

  private async renewChildren(run: RunTokenRecord, incrementMs: number) {
    for (const child of await this.store.children(run.runId)) {
      try {
        await this.vault.renewAccessor(child.accessor, toVaultSeconds(incrementMs));
      } catch (err) {
        if (err instanceof TokenRevokedError || err instanceof TokenExpiredError) continue; // its task is over
        await this.event({
          runId: run.runId,
          action: 'renewal-failed',
          accessor: child.accessor,
          agentId: child.agentId,
          error: serializeError(err),
        });
      }
    }
  }

  private async reachedMax(run: RunTokenRecord) {
    const event = this.prepared({
      runId: run.runId,
      action: 'max-ttl-reached',
      accessor: run.accessor,
      expiresAt: run.expiresAt,
      reason: 'explicit max TTL reached; no more renewals',
    });
    const wrote = await this.store.updateRunIfLive(run.runId, { state: 'at-max-ttl' }, [event]);
    await this.store.unscheduleRenewal(run.runId);
    // Not live any more (revoked meanwhile): no change, nothing to report.
    if (wrote) await this.outbox.send([event]);
  }

  async handle(env: Envelope): Promise<OutMessage | undefined> {
    if (env.type !== 'token.renew.v1') return undefined;
    if (env.body.runId) {
      const r = await this.renewRun(env.body.runId, true);
      return { type: 'token.renewed.v1', body: { runs: r ? [r] : [] } };
    }
    return { type: 'token.renewed.v1', body: { runs: await this.tick() } };
  }
}

export const tokenRenewerKind = defineActorKind({
  kind: ACTOR_KIND.tokenRenewer,
  description: 'renews live run tokens on schedule, up to their max TTL',
  args: TokenRenewerArgsSchema,
  async start(ctx) {
    const args = ctx.args;
    const redis = ctx.hold(new Redis(args.redisUrl, { maxRetriesPerRequest: 3 }), (r) => r.disconnect());
    const vault = new VaultTokenClient({ addr: args.vaultAddr, token: args.vaultToken, clock: ctx.clock });
    const renewer = new TokenRenewer(
      ctx,
      args,
      vault,
      new TokenStore(redis, args.keyPrefix, `${ctx.kind}:${ctx.id}`),
    );
    // Events a SIGKILL cut off between their record's write and their publish, before anything new.
    try {
      await renewer.outbox.recover();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const poll = () => {
      renewer.tick().catch((err) => ctx.log.warn('renewal pass failed', { error: String(err) }));
    };
    const timer: TimerHandle = ctx.clock.setInterval(poll, args.pollMs);
    poll();
    return {
      accepts: ['token.renew.v1'],
      status: () => ({ renewals: renewer.renewals, failures: renewer.failures }),
      handle: (env) => refusing(() => renewer.handle(env)),
      async stop() {
        ctx.clock.clear(timer);
        await renewer.idle();
        await renewer.outbox.settled();
        renewer.outbox.close();
        redis.disconnect();
      },
    };
  },
});
