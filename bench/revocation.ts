/**
 * `npm run bench -- revocation`: how long revoking an agent's NATS credential takes to cut it off
 * (target p99 < 100 ms, issue #11): from the start of the revoke (re-sign the account JWT, push it to
 * the server over `$SYS`, save the revocations) until the server has dropped the agent's connection,
 * after which its next publish reaches no one. Baseline in the same run, interleaved: a plain nats.js
 * request/reply round trip on the same server, so the ratio says what the machine's load alone costs.
 *
 * Two phases on one server, each with `REVOCATIONS` agents revoked one at a time:
 * - `grown`: the account already lists `STALE` revocations of users whose expiry is unknown, as every
 *   revocation was kept before pruning existed (each claim update carries and the server decodes them);
 * - `pruned`: the same stale revocations, their users' JWTs known to have expired: the first revoke
 *   prunes them (infra/nats-auth/authority.ts `pruneRevocations`) and the account JWT stays small.
 * The machine's load average is printed with the numbers: quote ratios, not lone times.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import {
  ClaimsPusher,
  DEFAULT_REVOCATION_PRUNE_SKEW_MS,
  mintUser,
  type NatsAuthority,
} from '../infra/nats-auth/index.ts';
import { createUser } from '@nats-io/jwt';
import { credentialAuthorityKind } from '../actors/credentials/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus } from '../bus/index.ts';
import { ACTOR_KIND, actorInbox, heartbeatSubject, serviceSubject } from '../protocols/index.ts';
import { startBenchServices } from './bench-system.ts';
import { rawConnect } from './raw-connect.ts';
import { percentile, report, round, summarize } from './stats.ts';

const REVOCATIONS = 200;
const STALE = 2_000;

interface Phase {
  revokeToDropMs: number[];
  pushMs: number[];
  rawRequestMs: number[];
  accountJwtBytes: number;
  revocationsListed: number;
}

/** One phase's figures: revoke → dropped against a raw request on the same server. */
function sum(p: Phase) {
  const drop = summarize(p.revokeToDropMs);
  const base = summarize(p.rawRequestMs);
  return {
    revokeToDropMs: {
      p50: round(drop.p50),
      p95: round(
        percentile(
          [...p.revokeToDropMs].sort((a, b) => a - b),
          95,
        ),
      ),
      p99: round(drop.p99),
      max: round(Math.max(...p.revokeToDropMs)),
    },
    pushMs: { p50: round(summarize(p.pushMs).p50), p99: round(summarize(p.pushMs).p99) },
    rawRequestMs: { p50: round(base.p50), p99: round(base.p99) },
    accountJwtBytes: p.accountJwtBytes,
    revocationsListed: p.revocationsListed,
    ratioP50: round(drop.p50 / base.p50),
    ratioP99: round(drop.p99 / base.p99),
  };
}

export async function benchRevocation(): Promise<void> {
  const services = await startBenchServices('revocation', { streams: false });
  const url = services.natsUrl;
  const auth = services.system.services.embedded.nats!.auth;
  const step = (what: string) => console.error(`[revocation] ${what}`);
  try {
    const raw = await rawConnect(url);
    const responder = await rawConnect(url);
    responder.subscribe('bench.echo', {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    await responder.flush();
    const pusher = await ClaimsPusher.connect(url, auth);
    const payload = new Uint8Array(256);

    const phase = async (name: string, staleExpiresAtMs: number | undefined): Promise<Phase> => {
      step(`${name}: ${STALE} stale revocations, then ${REVOCATIONS} agents revoked one at a time`);
      addStale(auth, staleExpiresAtMs);
      const out: Phase = {
        revokeToDropMs: [],
        pushMs: [],
        rawRequestMs: [],
        accountJwtBytes: 0,
        revocationsListed: 0,
      };
      // One revocation first, not counted: it compiles the path (and, pruned, drops the stale ones).
      for (let i = -1; i < REVOCATIONS; i++) {
        const id = `bench-${name}-${i + 1}`;
        const agent = await mintUser(auth, { role: 'agent', id, tier: 'T0' });
        const seed = new TextEncoder().encode(agent.seed);
        const {
          rawMs,
          revokeMs: pushed,
          droppedMs: droppedAt,
        } = await timeRevocation(
          { url, raw, payload },
          { id, jwt: agent.jwt, seed, inboxPrefix: agent.inboxPrefix },
          () => pusher.revoke([{ publicKey: agent.publicKey, expiresAtMs: agent.expiresAtMs }]),
        );
        if (i < 0) continue;
        out.rawRequestMs.push(rawMs);
        out.pushMs.push(pushed);
        out.revokeToDropMs.push(droppedAt);
      }
      out.accountJwtBytes = auth.accountJwt.length;
      out.revocationsListed = Object.keys(auth.revocations).length;
      return out;
    };

    const load = [loadavg()[0]!];
    const grown = await phase('grown', undefined);
    load.push(loadavg()[0]!);
    // The same stale users, now known to have expired long ago: pruned by the first revoke.
    clearStale(auth);
    const pruned = await phase('pruned', Date.now() - DEFAULT_REVOCATION_PRUNE_SKEW_MS - 60_000);
    load.push(loadavg()[0]!);
    step(`through the credential authority actor: ${REVOCATIONS} agents suspended one at a time`);
    const viaActor = await actorPhase(url, raw);
    viaActor.accountJwtBytes = auth.accountJwt.length;
    viaActor.revocationsListed = Object.keys(auth.revocations).length;
    load.push(loadavg()[0]!);
    await pusher.close();
    await raw.close();
    await responder.close();

    const results = {
      revocations: REVOCATIONS,
      stale: STALE,
      loadAverage1m: load.map((l) => round(l, 1)),
      grown: sum(grown),
      pruned: sum(pruned),
      viaActor: sum(viaActor),
    };
    for (const [name, r] of [
      ['grown ', results.grown],
      ['pruned', results.pruned],
      ['actor ', results.viaActor],
    ] as const)
      console.log(
        `${name}: revoke → dropped p50 ${r.revokeToDropMs.p50} ms, p95 ${r.revokeToDropMs.p95} ms, p99 ${r.revokeToDropMs.p99} ms, max ${r.revokeToDropMs.max} ms (target p99 < 100 ms); raw request p50 ${r.rawRequestMs.p50} ms p99 ${r.rawRequestMs.p99} ms → ${r.ratioP50}× / ${r.ratioP99}×; account JWT ${r.accountJwtBytes} B, ${r.revocationsListed} revocations listed`,
      );
    console.log(`load average (1 min) at start, between phases, end: ${results.loadAverage1m.join(', ')}`);
    report('revocation', results, {
      grownDropP99VsRawP99: results.grown.ratioP99,
      prunedDropP99VsRawP99: results.pruned.ratioP99,
      prunedVsGrownDropP99: round(results.pruned.revokeToDropMs.p99 / results.grown.revokeToDropMs.p99),
      actorDropP99VsRawP99: results.viaActor.ratioP99,
    });
  } finally {
    await services.stop();
  }
}

/**
 * Through the credential authority actor: the agent's credential is minted by it (for a key made
 * here), and the revocation is triggered as in the system, by a suspend command sent to the agent's
 * inbox; timed from that publish until the server has dropped the agent's connection.
 */
/**
 * One agent connected with its credential and heard by the server (a heartbeat), a raw request timed as
 * the baseline, then `revoke` timed to its return and to the moment the server drops the agent.
 */
async function timeRevocation(
  on: { url: string; raw: Awaited<ReturnType<typeof rawConnect>>; payload: Uint8Array },
  agent: { id: string; jwt: string; seed: Uint8Array; inboxPrefix: string },
  revoke: () => Promise<unknown>,
): Promise<{ rawMs: number; revokeMs: number; droppedMs: number }> {
  const nc = await connect({
    servers: on.url,
    authenticator: jwtAuthenticator(agent.jwt, agent.seed),
    inboxPrefix: agent.inboxPrefix,
    reconnect: false,
  });
  nc.publish(heartbeatSubject('agent', agent.id), on.payload);
  await nc.flush();
  let t0 = performance.now();
  await on.raw.request('bench.echo', on.payload, { timeout: 5_000 });
  const rawMs = performance.now() - t0;
  t0 = performance.now();
  const dropped = nc.closed().then(() => performance.now());
  await revoke();
  const revokeMs = performance.now() - t0;
  return { rawMs, revokeMs, droppedMs: (await dropped) - t0 };
}

async function actorPhase(url: string, raw: Awaited<ReturnType<typeof rawConnect>>): Promise<Phase> {
  const ca = await runActor(credentialAuthorityKind, { id: 'ca-bench', bus: { servers: url } });
  const bus = await Bus.connect({ servers: url, name: 'bench-revocation' });
  const out: Phase = {
    revokeToDropMs: [],
    pushMs: [],
    rawRequestMs: [],
    accountJwtBytes: 0,
    revocationsListed: 0,
  };
  const payload = new Uint8Array(256);
  try {
    for (let i = -1; i < REVOCATIONS; i++) {
      const id = `bench-actor-${i + 1}`;
      const kp = createUser();
      const minted = await bus.ask(serviceSubject(ACTOR_KIND.credentialAuthority), {
        type: 'credentials.mint.v1',
        body: { principal: { role: 'agent', id, tier: 'T0' }, publicKey: kp.getPublicKey() },
      });
      const jwt = (minted.body as { jwt: string }).jwt;
      // The suspend is a tell: its "push" time is the time until the connection drops.
      const { rawMs, droppedMs: droppedAt } = await timeRevocation(
        { url, raw, payload },
        { id, jwt, seed: kp.getSeed(), inboxPrefix: `_INBOX.agent-${id}` },
        async () =>
          bus.tell(actorInbox(ACTOR_KIND.agent, id), {
            type: 'agent.command.v1',
            body: { command: 'suspend', by: 'bench', reason: 'bench' },
          }),
      );
      if (i < 0) continue;
      out.rawRequestMs.push(rawMs);
      out.pushMs.push(droppedAt);
      out.revokeToDropMs.push(droppedAt);
    }
  } finally {
    await bus.close();
    await ca.stop('bench over');
  }
  return out;
}

const staleKeys: string[] = [];

/** Revocations of users nobody holds any more, as a long-running system accumulates them. */
function addStale(auth: NatsAuthority, expiresAtMs: number | undefined): void {
  const at = Math.floor(Date.now() / 1000);
  for (let i = 0; i < STALE; i++) {
    const key = staleKeys[i] ?? randomUserKey();
    staleKeys[i] = key;
    auth.revocations[key] = at;
    if (expiresAtMs !== undefined) auth.revocationExpiry[key] = expiresAtMs;
  }
}

function clearStale(auth: NatsAuthority): void {
  for (const key of Object.keys(auth.revocations)) {
    delete auth.revocations[key];
    delete auth.revocationExpiry[key];
  }
}

/**
 * A well-formed user public key for a user nobody holds (base32 of prefix `U`, 32 random bytes and
 * their CRC-16/XMODEM): the nkeys library derives one from a seed in pure JS, ~30 ms each when loaded.
 */
function randomUserKey(): string {
  const body = Buffer.concat([Buffer.from([20 << 3]), randomBytes(32)]);
  let crc = 0;
  for (const b of body) {
    crc ^= b << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  const bytes = Buffer.concat([body, Buffer.from([crc & 0xff, crc >> 8])]);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
