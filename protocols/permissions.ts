/**
 * Who may publish and subscribe to what on the bus: the one table every NATS credential is minted
 * from (infra/nats-auth). The broker enforces it, so a process holding an agent's or an observer's
 * credential cannot do more than the table says, whatever it puts in a message.
 *
 * A principal is what a credential stands for:
 * - `actor`    a system actor of a kind (`supervisor`, `orchestrator`, `token-authority`, …), one id;
 * - `agent`    an agent of one tier (T0 < T1 < T2), one id;
 * - `observer` an external tool that reads the JSON feed (`gov.obs.>`) and nothing else;
 * - `client`   the operator's CLI (`agov run`, `agov agents`, …): asks services, reads the feed;
 * - `admin`    everything (the process that starts the system, and tests that act as the system);
 * - `host`     the one connection in-host actors share (bus/shared-connection.ts): the union of its
 *              members' grants (each an `actor` or `agent` principal, named in full — no wildcard
 *              widens it to an id outside the host), with one private reply inbox of its own.
 *
 * Templates: `{kind}`, `{id}` and `{inbox}` are replaced by the principal's values, each a validated
 * subject token, so an id can never widen a grant.
 *
 * Audit events: a principal publishes them only on `gov.audit.<category>.<its own name>` (`{inbox}`,
 * the name `Bus.principal()` gives); the ledger records that name as the entry's authenticated sender
 * (`auditSenderOf`). Nobody but admin may publish on a subject naming another principal, or on the
 * bare `gov.audit.<category>`, which names no one. Every principal's reply inbox is private:
 * `_INBOX.<inbox>.>` (nats.js `inboxPrefix`), and only its owner may subscribe there; responders answer
 * through the broker's response permission (`resp`), which lets a connection publish once to the reply
 * subject of a request it received, so nobody needs to publish to `_INBOX.>` at large.
 *
 * Kinds missing from `ACTOR_PERMISSIONS` (demo and test kinds) get `TRUSTED_ACTOR`: the whole `gov.`
 * tree and JetStream, as a system component. Agents, observers and clients are never such a kind.
 */
import type { Tier } from './vocabulary/tiers.ts';
import { subjectToken } from './subjects.ts';

export interface SubjectGrant {
  /** Subjects (NATS wildcards allowed) the principal may publish to. */
  pub: readonly string[];
  /** Subjects the principal may subscribe to. */
  sub: readonly string[];
}

export type Principal =
  | { role: 'actor'; kind: string; id: string }
  | { role: 'agent'; id: string; tier: Tier }
  | { role: 'observer'; name: string }
  | { role: 'client'; name: string }
  | { role: 'admin'; name: string }
  | { role: 'host'; name: string; members: readonly MemberPrincipal[] };

/** Who may be a member of a host's shared connection: actors and agents, never a person's tool. */
export type MemberPrincipal = Extract<Principal, { role: 'actor' } | { role: 'agent' }>;

/** What every actor does through the runtime: its inbox, its kind's service subject, its lifecycle. */
const RUNTIME: SubjectGrant = {
  pub: ['gov.sys.hb.{kind}.{id}', 'gov.sys.started.{kind}.{id}', 'gov.sys.exit.{kind}.{id}', 'gov.dlq.*'],
  sub: ['gov.actor.{kind}.{id}', 'gov.svc.{kind}', '_INBOX.{inbox}.>'],
};

/**
 * JetStream's API, flow control, KV and object stores: only for kinds that manage streams, consumers
 * or KV. No `$JS.ACK.>`: a consumer acks a message through the response permission (`resp`), which
 * lets a connection publish once to the reply subject of a message delivered to it. Besides keeping
 * anyone from acking another consumer's messages, this is what keeps nats-server fast: with `resp` set
 * (every minted user has it) the server remembers the reply subject of every message it delivers to
 * the connection, and drops one only once used through `resp` or after the response window (10 min).
 * An ack allowed by `$JS.ACK.>` never used it, so a consumer's deliveries piled up, and past 10 000 the
 * server walked the whole pile on EVERY delivery (nats-server 2.9 `pruneReplyPerms`, deleting nothing):
 * the ledger bench fell from 0.7x to 0.017x of raw publish, round after round (docs/ledger.md).
 */
const JETSTREAM = ['$JS.API.>', '$JS.FC.>', '$KV.>', '$O.>'];

/** System actors that run on the bus with broad rights: trusted code, started by the system only. */
export const TRUSTED_ACTOR: SubjectGrant = {
  pub: ['gov.>', ...JETSTREAM],
  sub: ['gov.>', '$KV.>', '$O.>', '_INBOX.{inbox}.>'],
};

/**
 * System actor kinds. Each entry adds to `RUNTIME`. Services tell and ask other services and agents
 * (`gov.actor.>`, `gov.svc.>`), and write the feed and the audit trail.
 */
export const ACTOR_PERMISSIONS: Readonly<Record<string, SubjectGrant>> = {
  // Asks the credential authority for the credentials of the agents it starts.
  supervisor: {
    pub: [
      'gov.actor.>',
      'gov.sys.>',
      'gov.obs.>',
      'gov.audit.supervisor.{inbox}',
      'gov.svc.credential-authority',
    ],
    sub: ['gov.sys.>'],
  },
  orchestrator: {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}', 'gov.results.>', ...JETSTREAM],
    sub: [
      'gov.sys.hb.>',
      'gov.sys.exit.>',
      'gov.agents.register.>',
      'gov.agents.register',
      'gov.contain.*',
      // The fast path of reports (actors/orchestrator/report-intake.ts): heard as published, before the
      // RESULTS stream's copy. Refused until now, so deployed orchestrators waited for the stream copy.
      'gov.results.orchestrator.*',
      '$KV.>',
    ],
  },
  'agent-directory': {
    pub: ['gov.obs.>'],
    sub: [
      'gov.sys.hb.>',
      'gov.sys.exit.>',
      'gov.agents.register.>',
      'gov.agents.register',
      'gov.obs.agent.>',
    ],
  },
  // Only these two may order a run contained (`gov.contain.*`): a breach or a verified violation.
  'token-authority': {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}', 'gov.contain.*', ...JETSTREAM],
    sub: [],
  },
  'token-renewer': {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}', ...JETSTREAM],
    sub: [],
  },
  'budget-monitor': {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}', 'gov.contain.*', ...JETSTREAM],
    sub: ['gov.errors.>', 'gov.svc.handoff'],
  },
  'ledger-writer': {
    pub: ['gov.obs.>', 'gov.audit.*.{inbox}', ...JETSTREAM],
    sub: [],
  },
  // Reads the writer's checkpoints, asks it for consistency proofs, tells it cosignatures.
  witness: {
    pub: ['gov.svc.ledger-writer', 'gov.obs.witness.*', 'gov.audit.witness.{inbox}', ...JETSTREAM],
    sub: ['gov.obs.ledger.checkpoint'],
  },
  // Operator controls at the tier of the API key it verified, under its own name (`gov.ctl.<tier>.<self>`).
  gateway: {
    pub: [
      'gov.actor.>',
      'gov.svc.>',
      'gov.obs.>',
      'gov.audit.*.{inbox}',
      'gov.errors.*',
      'gov.ctl.*.{inbox}',
      // Context requests at the verified API key's tier, under its own name, like controls.
      'gov.ctx.*.*.{inbox}',
      ...JETSTREAM,
    ],
    sub: ['gov.obs.>'],
  },
  // Context management (docs/context.md): KV buckets, and the memory's object store (`$O.agov-memory.>`).
  // Also takes T1+ agents' claim-check puts on `gov.memory.put.<tier>.<agent>` (tier from the subject).
  // Writes, deletes and restores reach the three context services only on
  // `gov.ctx.<kind>.<tier>.<principal>` (tier and principal from the subject), where the broker vouches for both.
  memory: {
    pub: ['gov.obs.>', ...JETSTREAM, '$O.agov-memory.>'],
    sub: ['$KV.>', '$O.agov-memory.>', 'gov.memory.put.>', 'gov.ctx.{kind}.*.*'],
  },
  'work-status': {
    pub: ['gov.svc.>', 'gov.obs.>', ...JETSTREAM],
    sub: ['$KV.>', 'gov.ctx.{kind}.*.*'],
  },
  checkpoint: {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}', ...JETSTREAM],
    sub: ['$KV.>', 'gov.ctx.{kind}.*.*'],
  },
  // Operator controls (actors/control): reads `gov.ctl.>`, where the subject carries the caller's
  // verified tier and name, and asks the services that apply them.
  control: {
    pub: ['gov.actor.>', 'gov.svc.>', 'gov.obs.>', 'gov.audit.*.{inbox}'],
    sub: ['gov.ctl.>'],
  },
  // Holds the account key (actors/credentials): answers mints, tells holders renewed JWTs and rekeys
  // (their inboxes), watches the commands sent to agents and their exits to revoke or reissue.
  'credential-authority': {
    pub: [
      'gov.actor.>',
      'gov.obs.>',
      'gov.audit.*.{inbox}',
      '$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE',
      ...JETSTREAM,
    ],
    sub: ['gov.actor.agent.*', 'gov.sys.exit.agent.*'],
  },
};

/**
 * Agents, by tier. An agent announces itself, heartbeats, tells progress and results to the
 * orchestrator's results subject, appends its own audit events, and writes its own feed; it reads
 * only its own inbox. It can tell no other actor anything, read no other inbox, touch no stream's
 * API and no KV bucket. Higher tiers add nothing on the bus today: what a tier may run is decided by
 * whoever assigns work, from the tier in the credential.
 */
const AGENT_BASE: SubjectGrant = {
  pub: [
    'gov.sys.hb.agent.{id}',
    'gov.sys.started.agent.{id}',
    'gov.sys.exit.agent.{id}',
    // Under its own id, at its credential's tier: receivers read both from the subject.
    'gov.agents.register.{tier}.{id}',
    // Its own audit events and reports, under its own id: the ledger and the orchestrator read the
    // agent from the subject (`gov.audit.agent.agent-<id>`, `gov.results.<kind>.<id>`).
    'gov.audit.agent.{inbox}',
    'gov.results.*.{id}',
    'gov.obs.agent.{id}',
    'gov.obs.violation.{id}',
    'gov.dlq.*',
  ],
  sub: ['gov.actor.agent.{id}', '_INBOX.{inbox}.>'],
};

/**
 * T1 and T2 agents may store a task's spilled output in memory under their own id and tier
 * (`gov.memory.put.<tier>.<self>`, the claim check; T0 may not). A T2 agent may also send operator
 * controls (`gov.ctl.T2.<self>`); T0 and T1 may not.
 */
export const AGENT_PERMISSIONS: Readonly<Record<Tier, SubjectGrant>> = {
  T0: AGENT_BASE,
  T1: { pub: [...AGENT_BASE.pub, 'gov.memory.put.{tier}.{id}'], sub: AGENT_BASE.sub },
  T2: {
    pub: [...AGENT_BASE.pub, 'gov.memory.put.{tier}.{id}', 'gov.ctl.T2.{inbox}'],
    sub: AGENT_BASE.sub,
  },
};

/** External observability tools: the JSON feed, read only. */
export const OBSERVER_PERMISSIONS: SubjectGrant = { pub: [], sub: ['gov.obs.>', '_INBOX.{inbox}.>'] };

/**
 * The operator's CLI: asks services and actors (runs, agents, the tree, the ledger), reads the feed,
 * and reads/writes the context store's JetStream buckets (`agov memory`, `agov status`). The operator
 * holds it, so its controls and context requests carry T2 (`gov.ctl.T2.<self>`, `gov.ctx.<kind>.T2.<self>`).
 */
export const CLIENT_PERMISSIONS: SubjectGrant = {
  pub: ['gov.svc.>', 'gov.actor.>', 'gov.ctl.T2.{inbox}', 'gov.ctx.*.T2.{inbox}', ...JETSTREAM, '$O.>'],
  sub: ['gov.obs.>', '_INBOX.{inbox}.>', '$O.>'],
};

export const ADMIN_PERMISSIONS: SubjectGrant = { pub: ['>'], sub: ['>'] };

/** An agent's NATS user name, whatever its tier: `agent-<id>`. */
export function agentPrincipalName(agentId: string): string {
  return `agent-${subjectToken(agentId, 'agent id')}`;
}

/** The NATS user name and reply-inbox token of a principal: `<role-or-kind>-<id>`. */
export function principalName(p: Principal): string {
  switch (p.role) {
    case 'actor':
      return `${subjectToken(p.kind, 'actor kind')}-${subjectToken(p.id, 'actor id')}`;
    case 'agent':
      return agentPrincipalName(p.id);
    default:
      return `${p.role}-${subjectToken(p.name, `${p.role} name`)}`;
  }
}

/** The reply-inbox prefix of a principal's connections (nats.js `inboxPrefix`). */
export function inboxPrefixOf(p: Principal): string {
  return `_INBOX.${principalName(p)}`;
}

function expand(grant: SubjectGrant, vars: Record<string, string>): SubjectGrant {
  const fill = (s: string) => s.replace(/\{(\w+)\}/g, (_, k: string) => vars[k] ?? `{${k}}`);
  const uniq = (xs: readonly string[]) => [...new Set(xs.map(fill))];
  return { pub: uniq(grant.pub), sub: uniq(grant.sub) };
}

function merge(...grants: SubjectGrant[]): SubjectGrant {
  return { pub: grants.flatMap((g) => g.pub), sub: grants.flatMap((g) => g.sub) };
}

/**
 * A host's grants: every member's own, except their private reply inboxes (the members' asks come
 * back on the host's one inbox, `_INBOX.host-<name>.>`).
 */
function hostPermissions(members: readonly MemberPrincipal[], inbox: string): SubjectGrant {
  const pub = new Set<string>();
  const sub = new Set<string>([`_INBOX.${inbox}.>`]);
  for (const m of members) {
    const own = permissionsFor(m);
    const ownInbox = `_INBOX.${principalName(m)}.>`;
    for (const s of own.pub) pub.add(s);
    for (const s of own.sub) if (s !== ownInbox) sub.add(s);
  }
  return { pub: [...pub], sub: [...sub] };
}

/** The concrete publish/subscribe allow lists of one principal, from the table above. */
export function permissionsFor(p: Principal): SubjectGrant {
  const inbox = principalName(p);
  switch (p.role) {
    case 'host':
      return hostPermissions(p.members, inbox);
    case 'actor': {
      const vars = { kind: subjectToken(p.kind, 'actor kind'), id: subjectToken(p.id, 'actor id'), inbox };
      const own = ACTOR_PERMISSIONS[p.kind];
      return expand(own ? merge(RUNTIME, own) : merge(RUNTIME, TRUSTED_ACTOR), vars);
    }
    case 'agent':
      return expand(AGENT_PERMISSIONS[p.tier], { id: subjectToken(p.id, 'agent id'), tier: p.tier, inbox });
    case 'observer':
      return expand(OBSERVER_PERMISSIONS, { inbox });
    case 'client':
      return expand(CLIENT_PERMISSIONS, { inbox });
    case 'admin':
      return ADMIN_PERMISSIONS;
  }
}
