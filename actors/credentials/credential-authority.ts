/**
 * The credential authority (kind `credential-authority`, service `gov.svc.credential-authority`): the
 * actor that holds the account signing key and the operator key, and so the only one that signs user
 * JWTs and pushes revocations (docs/security.md "Credential lifecycle").
 *
 * - mint (`credentials.mint.v1`): a JWT for the public key the asker made (supervisors for the agents
 *   they start, `agov agent enroll` for external agents); no seed on the bus;
 * - renew: before a credential of a holder on the bus expires, a JWT for the same key with a later
 *   expiry goes to the holder's inbox (`credentials.renewed.v1`), used from its next reconnect;
 * - revoke at once when an agent is suspended, quarantined or terminated (a command on its inbox, which
 *   only system credentials may send), when it exits, or when asked (`credentials.revoke.v1`);
 * - reissue on promotion or demotion: the agent makes a new key pair (`credentials.rekey.v1`, answered
 *   with the public key), gets a JWT of the new tier for it, reconnects with it, and the old key is
 *   revoked — so the old credential stops working and no secret crossed the bus.
 * Every step is on the feed (`gov.obs.credentials.<event>`) and audited (`gov.audit.credentials.<self>`).
 */
import { ACTOR_KIND } from '../../protocols/actor-kinds.ts';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../../protocols/envelope.ts';
import { ConfigError, toGovError } from '../../protocols/vocabulary/errors.ts';
import { type Principal, principalName } from '../../protocols/permissions.ts';
import {
  actorInbox,
  allAgentExits,
  allAgentInboxes,
  auditSubject,
  parseActorSubject,
} from '../../protocols/subjects.ts';
import { type Tier, tierRank } from '../../protocols/vocabulary/tiers.ts';
import type { TimerHandle } from '../../infra/clock/index.ts';
import {
  authorityFor,
  ClaimsPusher,
  loadOrCreateNatsAuthority,
  type NatsAuthority,
  signUser,
} from '../../infra/nats-auth/index.ts';
import { type ActorContext, defineActorKind, refusing } from '../runtime/actor-kind.ts';
import {
  CREDENTIALS_AUDIT_CATEGORY,
  type CredentialAuthorityArgs,
  CredentialAuthorityArgsSchema,
} from './credential-options.ts';
import { CredentialRegistry, type Issued } from './credential-registry.ts';
import { actionForCommand } from './credential-rules.ts';

type Event = BodyOf<'credentials.event.v1'>;

async function resolveAuthority(ctx: ActorContext<CredentialAuthorityArgs>): Promise<NatsAuthority> {
  if (ctx.args.authorityDir) return loadOrCreateNatsAuthority(ctx.args.authorityDir);
  const known = authorityFor(ctx.busOptions.servers) as Partial<NatsAuthority> | undefined;
  if (known?.operator && known.accountJwt !== undefined) return known as NatsAuthority;
  throw new ConfigError('the credential authority needs the operator and account keys (authorityDir)');
}

/** The authority's state and steps; the kind below wires it to the bus. */
class CredentialAuthority {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: ActorContext<CredentialAuthorityArgs>,
    private readonly authority: NatsAuthority,
    private readonly pusher: ClaimsPusher,
    readonly registry: CredentialRegistry,
  ) {}

  /** Runs `step` after every step before it: the registry and the account JWT change one at a time. */
  serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.chain.then(step, step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private record(body: Event): void {
    const env = this.ctx.bus.wrap({ type: 'credentials.event.v1', body });
    this.ctx.bus.emit(['credentials', body.event], { type: 'credentials.event.v1', body });
    const subject = auditSubject(CREDENTIALS_AUDIT_CATEGORY, this.ctx.bus.principal());
    void this.ctx.bus.publishDurable(subject, env).catch((err) => {
      this.ctx.log.warn('audit record of a credential step was not stored', { error: String(err) });
    });
  }

  async mint(b: BodyOf<'credentials.mint.v1'>): Promise<BodyOf<'credentials.minted.v1'>> {
    const principal = b.principal as Principal;
    const ttlMs = b.ttlMs ?? this.ctx.args.ttlMs;
    const signed = await signUser(this.authority, principal, b.publicKey, {
      ttlMs,
      nowMs: this.ctx.clock.now(),
    });
    await this.registry.put({
      publicKey: b.publicKey,
      name: signed.name,
      principal,
      expiresAtMs: signed.expiresAtMs,
      enrolled: b.enrolled,
    });
    this.record({
      event: 'minted',
      name: signed.name,
      publicKey: b.publicKey,
      expiresAtMs: signed.expiresAtMs,
      ...tierOf(principal),
    });
    return signed;
  }

  /** Revokes every live credential of `agentId`; resolves once the server has the account update. */
  async revokeAgent(agentId: string, reason: string): Promise<BodyOf<'credentials.revoked.v1'>> {
    const started = performance.now();
    const live = this.registry.ofAgent(agentId, this.ctx.clock.now());
    if (live.length > 0) await this.revokeKeys(live, reason);
    return { agentId, keys: live.length, reason, tookMs: performance.now() - started };
  }

  private async revokeKeys(keys: Issued[], reason: string): Promise<void> {
    await this.pusher.revoke(keys.map((i) => ({ publicKey: i.publicKey, expiresAtMs: i.expiresAtMs })));
    for (const i of keys) {
      await this.registry.put({ ...i, revoked: true });
      this.record({ event: 'revoked', name: i.name, publicKey: i.publicKey, reason, ...tierOf(i.principal) });
    }
  }

  /**
   * A credential of `tier` for a running agent: it makes the key pair, we sign, it reconnects with the
   * new key, then its old keys are revoked. An agent that cannot rekey (an external client that does not
   * implement it) keeps its credential on a promotion (fail closed: work of its old tier) and loses it
   * on a demotion.
   */
  async reissue(agentId: string, tier: Tier, why: string): Promise<void> {
    const old = this.registry.ofAgent(agentId, this.ctx.clock.now());
    const holder = actorInbox(ACTOR_KIND.agent, agentId);
    const timeoutMs = this.ctx.args.holderTimeoutMs;
    try {
      const answer = await this.ctx.bus.ask(
        holder,
        { type: 'credentials.rekey.v1', body: { tier } },
        { timeoutMs },
      );
      if (answer.type !== 'credentials.public-key.v1') throw new Error(`rekey answered ${answer.type}`);
      const minted = await this.mint({
        principal: { role: 'agent', id: agentId, tier },
        publicKey: answer.body.publicKey,
        enrolled: false,
      });
      await this.ctx.bus.ask(
        holder,
        { type: 'credentials.renewed.v1', body: { jwt: minted.jwt, expiresAtMs: minted.expiresAtMs } },
        { timeoutMs },
      );
      this.record({
        event: 'reissued',
        name: minted.name,
        publicKey: answer.body.publicKey,
        tier,
        reason: why,
      });
      if (old.length > 0) await this.revokeKeys(old, `reissued at ${tier}: ${why}`);
    } catch (err) {
      const error = toGovError(err);
      const demotion = old.some((i) => i.principal.role === 'agent' && tierAbove(i.principal.tier, tier));
      this.record({
        event: 'refused',
        name: principalName({ role: 'agent', id: agentId, tier }),
        tier,
        reason: `${why}: ${error.code}`,
      });
      if (demotion && old.length > 0) await this.revokeKeys(old, `demoted to ${tier}, rekey failed: ${why}`);
    }
  }

  /** Renews what will expire within `renewBeforeMs`; holders that cannot take it keep the old JWT. */
  async renewDue(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const i of this.registry.expired(now)) await this.registry.drop(i.publicKey);
    for (const i of this.registry.dueForRenewal(now, this.ctx.args.renewBeforeMs)) {
      const holder = holderInbox(i.principal);
      if (!holder) continue;
      const signed = await signUser(this.authority, i.principal, i.publicKey, {
        ttlMs: this.ctx.args.ttlMs,
        nowMs: now,
      });
      try {
        await this.ctx.bus.ask(
          holder,
          { type: 'credentials.renewed.v1', body: { jwt: signed.jwt, expiresAtMs: signed.expiresAtMs } },
          { timeoutMs: this.ctx.args.holderTimeoutMs },
        );
        await this.registry.put({ ...i, expiresAtMs: signed.expiresAtMs });
        this.record({
          event: 'renewed',
          name: i.name,
          publicKey: i.publicKey,
          expiresAtMs: signed.expiresAtMs,
        });
      } catch (err) {
        this.ctx.log.warn('renewal not taken', { name: i.name, error: String(err) });
      }
    }
  }

  /** A command on an agent's inbox (seen, not answered: the agent answers it). */
  onAgentCommand(agentId: string, command: BodyOf<'agent.command.v1'>): Promise<void> {
    return this.serial(async () => {
      const live = this.registry.ofAgent(agentId, this.ctx.clock.now());
      const current = live.find((i) => i.principal.role === 'agent' && !i.enrolled) ?? live[0];
      if (!current || current.principal.role !== 'agent') return;
      const action = actionForCommand(command, current.principal.tier);
      if (action.do === 'revoke') await this.revokeAgent(agentId, action.reason);
      else if (action.do === 'reissue')
        await this.reissue(agentId, action.tier, `${command.command} by ${command.by}`);
    });
  }
}

const tierOf = (p: Principal): { tier?: Tier } => (p.role === 'agent' ? { tier: p.tier } : {});
const tierAbove = (a: Tier, b: Tier): boolean => tierRank(a) > tierRank(b);

/** Where a holder on the bus takes renewals: its actor inbox (agents and actors the system started). */
function holderInbox(p: Principal): string | undefined {
  if (p.role === 'agent') return actorInbox(ACTOR_KIND.agent, p.id);
  if (p.role === 'actor') return actorInbox(p.kind, p.id);
  return undefined;
}

export const credentialAuthorityKind = defineActorKind({
  kind: ACTOR_KIND.credentialAuthority,
  args: CredentialAuthorityArgsSchema,
  description: 'holds the account key: mints, renews, reissues and revokes user credentials',
  async start(ctx) {
    const authority = await resolveAuthority(ctx);
    const pusher = await ClaimsPusher.connect(ctx.busOptions.servers, authority);
    const ca = new CredentialAuthority(ctx, authority, pusher, await CredentialRegistry.open(ctx.bus));
    const watch = (subject: string, on: (id: string, env: Envelope) => Promise<void>) =>
      ctx.bus.subscribeRaw(subject, (m) => {
        const decoded = ctx.bus.decode(m.data);
        const id = parseActorSubject(m.subject)?.id;
        if (!decoded.ok || !id) return;
        void on(id, decoded.env).catch((err) =>
          ctx.log.warn('credential step failed', { error: String(err) }),
        );
      });
    const subs = [
      watch(allAgentInboxes(), async (id, env) => {
        if (env.type === 'agent.command.v1') await ca.onAgentCommand(id, env.body);
      }),
      watch(allAgentExits(), async (id, env) => {
        if (env.type === 'actor.exit.v1') await ca.serial(() => ca.revokeAgent(id, 'exited'));
      }),
    ];
    let renewing = false;
    const timer: TimerHandle = ctx.clock.setInterval(() => {
      if (renewing) return;
      renewing = true;
      void ca
        .serial(() => ca.renewDue())
        .catch((err) => ctx.log.warn('renewal round failed', { error: String(err) }))
        .finally(() => {
          renewing = false;
        });
    }, ctx.args.renewCheckMs);
    return {
      accepts: ['credentials.mint.v1', 'credentials.revoke.v1'],
      handle: (env) =>
        refusing(async (): Promise<OutMessage | undefined> => {
          if (env.type === 'credentials.mint.v1') {
            const body = await ca.serial(() => ca.mint(env.body));
            return { type: 'credentials.minted.v1', body };
          }
          if (env.type === 'credentials.revoke.v1') {
            const { agentId, reason } = env.body;
            const body = await ca.serial(() => ca.revokeAgent(agentId, reason ?? `revoked by ${env.from}`));
            return { type: 'credentials.revoked.v1', body };
          }
          return undefined;
        }),
      async stop() {
        ctx.clock.clear(timer);
        for (const s of subs) s.unsubscribe();
        await pusher.close();
      },
    };
  },
});
