/**
 * The connections a supervisor's in-host agents share (issue 17). Its in-host agent children (spec
 * order) are dealt into groups of one tier and at most `perConnection` agents; each group connects
 * once, when its first member starts, as a `host` principal whose credential grants the union of its
 * members' own subjects (protocols/permissions.ts) — never a wildcard over agent ids, so a group can
 * speak for its members and no other agent, and at a tier no higher than theirs. The members run on
 * leases of it (bus/shared-connection.ts) and share the host's Redis client (actors/runtime/host-redis.ts).
 *
 * Who does not share: process children (their own process, their own credential), in-host children of
 * other kinds (services hold keys and broad grants; supervisors mint), and every child when this process
 * holds no authority to mint a host credential (they connect with what they are given, as before), or
 * when `perConnection` is 0. Why this keeps zero trust: docs/security.md.
 */
import { SharedConnection } from '../bus/shared-connection.ts';
import { mintLocal } from '../infra/nats-auth/index.ts';
import { ACTOR_KIND, isTier, type Tier } from '../protocols/index.ts';
import { agentPrincipalName, type MemberPrincipal } from '../protocols/permissions.ts';
import type { ChildSpec } from './child-spec.ts';

/** What an in-host child runs on when it shares: RunActorOptions.host. */
export interface HostShare {
  connection: SharedConnection;
  principal: string;
}

export class HostConnections {
  private readonly groupOf = new Map<string, string>();
  private readonly members = new Map<string, MemberPrincipal[]>();
  private readonly opened = new Map<string, Promise<SharedConnection | undefined>>();
  private closed = false;

  constructor(
    private readonly servers: string,
    supervisorId: string,
    children: readonly ChildSpec[],
    perConnection: number,
  ) {
    if (perConnection <= 0) return;
    const count = new Map<Tier, number>();
    for (const c of children) {
      const s = c.start;
      if (s.kind !== 'actor' || s.actorKind !== ACTOR_KIND.agent) continue;
      const tier: Tier = isTier(s.args?.tier) ? s.args.tier : 'T0';
      const n = count.get(tier) ?? 0;
      count.set(tier, n + 1);
      const group = `${supervisorId}-${tier}-${Math.floor(n / perConnection)}`;
      this.groupOf.set(s.actorId, group);
      const list = this.members.get(group) ?? [];
      list.push({ role: 'agent', id: s.actorId, tier });
      this.members.set(group, list);
    }
  }

  /** How many connections are open (or opening). */
  get size(): number {
    return this.opened.size;
  }

  /** The share an in-host child of `kind` runs on, or undefined: it connects on its own. */
  async shareFor(kind: string, actorId: string): Promise<HostShare | undefined> {
    const group = kind === ACTOR_KIND.agent ? this.groupOf.get(actorId) : undefined;
    if (!group || this.closed) return undefined;
    let p = this.opened.get(group);
    if (!p) {
      p = this.connect(group);
      this.opened.set(group, p);
      // A failed connect is tried again by the next member to start.
      p.catch(() => this.opened.get(group) === p && this.opened.delete(group));
    }
    const connection = await p;
    return connection ? { connection, principal: agentPrincipalName(actorId) } : undefined;
  }

  private async connect(group: string): Promise<SharedConnection | undefined> {
    const members = this.members.get(group)!;
    const minted = await mintLocal(this.servers, { role: 'host', name: group, members });
    if (!minted) return undefined;
    return SharedConnection.open({
      servers: this.servers,
      name: `host-${group}`,
      credentials: { kind: 'jwt', jwt: minted.jwt, seed: minted.seed },
    });
  }

  /** As a killed process's sockets close: no drain (the supervisor was killed with its members). */
  async killAll(): Promise<void> {
    this.closed = true;
    const all = [...this.opened.values()];
    this.opened.clear();
    await Promise.allSettled(all.map(async (p) => (await p)?.kill()));
  }

  /** After every member has stopped: the connections drained and closed. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.opened.values()];
    this.opened.clear();
    await Promise.allSettled(all.map(async (p) => (await p)?.close()));
  }
}
