/** Shared setup of the governance integration tests: real nats-server, redis-server and the Vault dev server. */
import type { Bus } from '../../bus/bus.ts';
import { AUDIT_STREAM, ensureStreams } from '../../bus/streams.ts';
import { ManualClock } from '../../infra/clock/clock.ts';
import { startVaultDevServer, type VaultDevServer } from '../../infra/vault/dev-server.ts';
import type { BodyIn } from '../../protocols/catalog.ts';
import { auditSubject } from '../../protocols/subjects.ts';
import { TestServers, testBus, waitFor } from '../harness/index.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

export interface GovernanceEnv {
  servers: TestServers;
  clock: ManualClock;
  vault: VaultDevServer;
  natsUrl: string;
  redisUrl: string;
  client: Bus;
  /** Actor args every governance actor needs. */
  args: Record<string, unknown>;
}

export async function governanceEnv(): Promise<GovernanceEnv> {
  const servers = new TestServers();
  const nats = await servers.nats();
  const redis = await servers.redis();
  const clock = new ManualClock(Date.now());
  const vault = await startVaultDevServer({ clock });
  servers.onStop(() => vault.stop());
  const client = await testBus(nats.url);
  servers.onStop(() => client.close());
  await ensureStreams(client);
  return {
    servers,
    clock,
    vault,
    natsUrl: nats.url,
    redisUrl: redis.url,
    client,
    args: { vaultAddr: vault.addr, vaultToken: vault.rootToken, redisUrl: redis.url },
  };
}

/** Publishes a run event durably on gov.audit.run.<principal>, as the orchestrator does. */
export async function publishRunEvent(client: Bus, body: BodyIn<'run.event.v1'>): Promise<void> {
  await client.publishDurable(
    auditSubject('run', client.principal()),
    client.wrap({ type: 'run.event.v1', body, run: body.runId }),
  );
}

/** Resolves once a durable consumer has handled (acked) everything in the AUDIT stream. */
export async function consumerDrained(client: Bus, durable: string): Promise<void> {
  const jsm = await client.jetstreamManager();
  await waitFor(`consumer ${durable} drained`, async () => {
    const info = await jsm.consumers.info(AUDIT_STREAM, durable);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

export function governance(
  over: Partial<NonNullable<BodyIn<'run.event.v1'>['governance']>> = {},
): NonNullable<BodyIn<'run.event.v1'>['governance']> {
  return {
    pipeline: 'build',
    tiers: ['T0', 'T1'],
    token: { ttlMs: 2 * HOUR_MS, renewEveryMs: 30 * MINUTE_MS, maxTtlMs: 8 * HOUR_MS },
    ...over,
  };
}
