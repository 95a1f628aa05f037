/**
 * `npm run bench -- governance`: the governance actors against the same nats-server, redis-server
 * and Vault dev server, in one run:
 * - time from the error report that breaches a run's budget to its token's `revoked` event on the feed;
 * - token issue / renew / revoke latency through our actors (ask → token authority / renewer → Vault)
 *   relative to the same VaultTokenClient call made directly.
 */
import { budgetMonitorKind } from '../actors/error-budget/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { tokenAuthorityKind } from '../actors/token/index.ts';
import { tokenRenewerKind } from '../actors/token/index.ts';
import { VaultTokenClient } from '../actors/token/index.ts';
import { Bus } from '../bus/index.ts';
import { errorsSubject, serviceQueue, serviceSubject } from '../protocols/index.ts';
import { serve } from '../test/harness/serve.ts';
import { startBenchServices } from './bench-system.ts';
import { report, round, summarize } from './stats.ts';

const CALLS = 300;
const BREACHES = 50;
const WARMUP = 20;

export async function benchGovernance(): Promise<void> {
  const services = await startBenchServices('gov', { need: { redis: true, vault: true } });
  const nats = { url: services.natsUrl };
  const redis = { url: services.redisUrl };
  const vault = { addr: services.vaultAddr!, rootToken: services.vaultToken! };
  const bus = { servers: nats.url };
  const args = { vaultAddr: vault.addr, vaultToken: vault.rootToken, redisUrl: redis.url };
  try {
    const client = await Bus.connect({ servers: nats.url, name: 'bench-client' });
    const authority = await runActor(tokenAuthorityKind, { id: 'bench-ta', bus, args });
    const renewer = await runActor(tokenRenewerKind, {
      id: 'bench-tr',
      bus,
      args: { ...args, pollMs: 3_600_000 },
    });
    const monitor = await runActor(budgetMonitorKind, { id: 'bench-bm', bus, args: { redisUrl: redis.url } });
    serve(
      client,
      serviceSubject('orchestrator'),
      () => ({ type: 'run.accepted.v1', body: { runId: Bus.newId(), pipeline: 'diagnostic', stages: [] } }),
      {
        queue: serviceQueue('orchestrator'),
      },
    );
    const direct = new VaultTokenClient({ addr: vault.addr, token: vault.rootToken });

    const lat = {
      directIssue: [] as number[],
      actorIssue: [] as number[],
      directRenew: [] as number[],
      actorRenew: [] as number[],
      directRevoke: [] as number[],
      actorRevoke: [] as number[],
    };
    const time = async (out: number[] | undefined, fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      out?.push(performance.now() - t0);
    };
    const issueBody = (runId: string) => ({
      runId,
      governance: {
        pipeline: 'bench',
        tiers: ['T0', 'T1'] as Array<'T0' | 'T1'>,
        token: { ttlMs: 7_200_000, renewEveryMs: 1_800_000, maxTtlMs: 86_400_000 },
      },
    });
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const keep = i >= WARMUP;
      const runId = `bench-${i}`;
      let accessor = '';
      await time(keep ? lat.directIssue : undefined, async () => {
        accessor = (
          await direct.createToken({
            policies: ['agov-run', 'agov-tier-t0', 'agov-tier-t1'],
            ttl: 7200,
            explicitMaxTtl: 86_400,
            meta: { run_id: runId, pipeline: 'bench' },
          })
        ).accessor;
      });
      await time(keep ? lat.actorIssue : undefined, () =>
        client.ask(serviceSubject('token-authority'), { type: 'token.issue.v1', body: issueBody(runId) }),
      );
      await time(keep ? lat.directRenew : undefined, () => direct.renewAccessor(accessor, 7200));
      await time(keep ? lat.actorRenew : undefined, () =>
        client.ask(serviceSubject('token-renewer'), { type: 'token.renew.v1', body: { runId } }),
      );
      await time(keep ? lat.directRevoke : undefined, () => direct.revokeAccessor(accessor));
      await time(keep ? lat.actorRevoke : undefined, () =>
        client.ask(serviceSubject('token-authority'), {
          type: 'token.revoke.v1',
          body: { runId, reason: 'bench' },
        }),
      );
    }

    // Breach → revoked: default budget (5 errors allowed); the 6th report breaches.
    const breach: number[] = [];
    const revokedAt = new Map<string, (t: number) => void>();
    client.subscribeRaw('gov.obs.token.>', (m) => {
      const d = client.decode(m.data);
      if (d.ok && d.env.type === 'token.event.v1' && d.env.body.action === 'revoked')
        revokedAt.get(d.env.body.runId)?.(performance.now());
    });
    for (let i = 0; i < WARMUP / 4 + BREACHES; i++) {
      const runId = `breach-${i}`;
      await client.ask(serviceSubject('token-authority'), { type: 'token.issue.v1', body: issueBody(runId) });
      const report = {
        type: 'budget.report.v1',
        body: { runId, source: 'bench', outcome: 'error', code: 'GOV_ERR_TIMEOUT' },
      } as const;
      for (let e = 0; e < 5; e++) client.tell(errorsSubject(runId), report);
      await client.ask(serviceSubject('budget-monitor'), { type: 'budget.status.v1', body: { runId } }); // the 5 are counted
      const revoked = new Promise<number>((resolve) => revokedAt.set(runId, resolve));
      const t0 = performance.now();
      client.tell(errorsSubject(runId), report);
      const t1 = await revoked;
      if (i >= WARMUP / 4) breach.push(t1 - t0);
    }

    await monitor.stop();
    await renewer.stop();
    await authority.stop();
    await client.close();

    const s = (xs: number[]) => {
      const v = summarize(xs);
      return { p50: round(v.p50), p99: round(v.p99) };
    };
    const results = {
      breachToRevokedMs: s(breach),
      issueMs: { direct: s(lat.directIssue), actor: s(lat.actorIssue) },
      renewMs: { direct: s(lat.directRenew), actor: s(lat.actorRenew) },
      revokeMs: { direct: s(lat.directRevoke), actor: s(lat.actorRevoke) },
      calls: CALLS,
      breaches: BREACHES,
    };
    const ratio = (a: number[], b: number[]) => round(summarize(a).p50 / summarize(b).p50, 2);
    report('governance', results, {
      issueP50: ratio(lat.actorIssue, lat.directIssue),
      renewP50: ratio(lat.actorRenew, lat.directRenew),
      revokeP50: ratio(lat.actorRevoke, lat.directRevoke),
    });
  } finally {
    await services.stop();
  }
}
