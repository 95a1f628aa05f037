/**
 * A small agent written against the bus protocol with nothing but a NATS client (nats.js) and a
 * msgpack decoder — no code of this project. It proves that an agent written outside this codebase
 * can join (docs/orchestrator.md, "Writing an agent"), runs the harmless task kinds (noop, sleep,
 * fail), and stands in for the agent actor in tests, benches and `agov run` when that kind is absent.
 *
 * Credentials: a `.creds` file for an agent of its tier, and `inboxPrefix` `_INBOX.agent-<id>`.
 * Protocol: announce on `gov.agents.register`, heartbeat on `gov.sys.hb.agent.<id>` with a `status`,
 * answer `agent.task.assign.v1` on `gov.actor.agent.<id>` with `agent.task.accepted.v1` (or an error
 * in `Gov-Error-*` headers), then tell progress and one result to the assign's `replyTo`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, credsAuthenticator, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { unpack } from 'msgpackr';
import { agentRegisterSubject } from '../../../protocols/subjects.ts';

type Tier = 'T0' | 'T1' | 'T2';
const TIER_RANK: Record<Tier, number> = { T0: 0, T1: 1, T2: 2 };

export interface PlainAgentOptions {
  servers: string;
  id: string;
  /**
   * The agent's `.creds` file text (`agov agent enroll` writes one): a user JWT whose permissions
   * are its tier's (docs/security.md). The server accepts no connection without one.
   */
  creds: string;
  tier?: Tier;
  role?: string;
  team?: string;
  heartbeatMs?: number;
  /**
   * `json`: a JSON-only client. It registers with `encoding: json` (docs/protocol.md, Encodings) and
   * does not decode msgpack at all: a msgpack delivery is counted in `undecodable` and dropped.
   */
  encoding?: 'json';
  /** Called when the agent starts running a task (tests count executions here). */
  onStart?: (task: AssignBody) => void;
}

export interface AssignBody {
  taskId: string;
  runId: string;
  stageId: string;
  attempt: number;
  task: { kind: string; ms?: number; message?: string; code?: string };
  requiredTier: Tier;
  timeoutMs: number;
  replyTo: string;
  env: Record<string, string>;
}

export interface PlainAgent {
  readonly id: string;
  /** Tasks started, in order. */
  readonly started: AssignBody[];
  readonly state: 'idle' | 'working';
  /** Types of the messages delivered to its inbox, in order, each with the wire format it came in. */
  readonly received: Array<{ type: string; format: 'json' | 'msgpack' }>;
  /** Deliveries a JSON-only agent could not decode (msgpack). */
  readonly undecodable: number;
  /** Graceful stop: an exit report with reason `shutdown`. */
  stop(): Promise<void>;
  /** Dies on the spot: no result, no exit report, heartbeats stop (as a SIGKILLed process). */
  kill(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

type Outcome = 'succeeded' | 'failed' | 'cancelled';
type TaskError = { code: string; message: string; retryable: boolean };
type Incoming = { type: string; id: string; corr?: string; body: unknown };

export async function startPlainAgent(options: PlainAgentOptions): Promise<PlainAgent> {
  const from = `gov.actor.agent.${options.id}`;
  const nc: NatsConnection = await connect({
    servers: options.servers,
    name: from,
    authenticator: credsAuthenticator(enc.encode(options.creds)),
    // The only reply inbox an agent's credential may subscribe to.
    inboxPrefix: `_INBOX.agent-${options.id}`,
  });
  const agent = new Agent(nc, options);
  await agent.start();
  return agent;
}

/** The agent on its connection: its inbox, its one task at a time, its heartbeats. */
class Agent implements PlainAgent {
  readonly id: string;
  readonly started: AssignBody[] = [];
  readonly received: Array<{ type: string; format: 'json' | 'msgpack' }> = [];
  undecodable = 0;
  private readonly tier: Tier;
  private readonly heartbeatMs: number;
  private readonly from: string;
  private readonly jsonOnly: boolean;
  private readonly startedAt = Date.now();
  private current: { body: AssignBody; timer?: NodeJS.Timeout; began: number } | undefined;
  private seq = 0;
  private processed = 0;
  private hb: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PlainAgentOptions,
  ) {
    this.id = options.id;
    this.tier = options.tier ?? 'T1';
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.from = `gov.actor.agent.${options.id}`;
    this.jsonOnly = options.encoding === 'json';
  }

  get state() {
    return this.current ? ('working' as const) : ('idle' as const);
  }

  async start(): Promise<void> {
    this.nc.subscribe(this.from, { callback: (err, m) => (err ? undefined : this.onMessage(m)) });
    await this.nc.flush();
    this.register();
    this.heartbeat();
    // Registered again with every heartbeat: receivers believe a heartbeat's tier only up to the tier
    // of the last registration they heard (its subject is the credential's), and may have restarted.
    this.hb = setInterval(() => {
      this.register();
      this.heartbeat();
    }, this.heartbeatMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.hb);
    if (this.current?.timer) clearTimeout(this.current.timer);
    if (!this.nc.isClosed()) {
      this.nc.publish(
        `gov.sys.exit.agent.${this.id}`,
        this.envelope('actor.exit.v1', {
          actorId: this.id,
          kind: 'agent',
          pid: process.pid,
          incarnation: this.id,
          reason: 'shutdown',
        }),
      );
      await this.nc.drain();
    }
  }

  async kill(): Promise<void> {
    clearInterval(this.hb);
    if (this.current?.timer) clearTimeout(this.current.timer);
    this.current = undefined;
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private envelope(type: string, body: unknown, extra: Record<string, unknown> = {}): Uint8Array {
    return enc.encode(
      JSON.stringify({ sv: 1, type, id: randomUUID(), ts: Date.now(), from: this.from, ...extra, body }),
    );
  }

  private decode(m: Msg): Incoming {
    const isJson = m.data[0] === 0x7b;
    if (!isJson && this.jsonOnly) {
      this.undecodable++;
      throw new Error('not JSON');
    }
    const msg = isJson ? JSON.parse(dec.decode(m.data)) : unpack(m.data);
    this.received.push({ type: String(msg.type), format: isJson ? 'json' : 'msgpack' });
    return msg;
  }

  private status() {
    const { current, options } = this;
    return {
      agentId: this.id,
      state: current ? 'working' : 'idle',
      tier: this.tier,
      ...(options.role ? { role: options.role } : {}),
      ...(options.team ? { team: options.team } : {}),
      capabilities: ['noop', 'sleep', 'fail'],
      restarts: 0,
      ...(this.jsonOnly ? { encoding: 'json' } : {}),
      ...(current
        ? {
            currentTask: {
              taskId: current.body.taskId,
              runId: current.body.runId,
              stageId: current.body.stageId,
              attempt: current.body.attempt,
            },
          }
        : {}),
    };
  }

  private register(): void {
    this.nc.publish(
      agentRegisterSubject(this.tier, this.id),
      this.envelope('agent.register.v1', this.status()),
    );
  }

  private heartbeat(): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(
      `gov.sys.hb.agent.${this.id}`,
      this.envelope('actor.heartbeat.v1', {
        actorId: this.id,
        kind: 'agent',
        seq: this.seq++,
        pid: process.pid,
        host: hostname(),
        uptimeMs: Date.now() - this.startedAt,
        mailboxDepth: 0,
        processed: this.processed,
        intervalMs: this.heartbeatMs,
        status: this.status(),
      }),
    );
  }

  private finish(outcome: Outcome, error?: TaskError): void {
    if (!this.current) return;
    const { body, timer, began } = this.current;
    if (timer) clearTimeout(timer);
    this.current = undefined;
    if (this.nc.isClosed()) return;
    this.nc.publish(
      body.replyTo,
      this.envelope(
        'agent.task.result.v1',
        {
          taskId: body.taskId,
          runId: body.runId,
          stageId: body.stageId,
          attempt: body.attempt,
          agentId: this.id,
          status: outcome,
          durationMs: Date.now() - began,
          ...(error ? { error } : {}),
          ...(outcome === 'succeeded' ? { output: { by: this.id, pipelineId: body.env.PIPELINE_ID } } : {}),
        },
        { run: body.runId },
      ),
    );
  }

  private onMessage(m: Msg): void {
    let msg: Incoming;
    try {
      msg = this.decode(m);
    } catch {
      return;
    }
    this.processed++;
    if (msg.type === 'actor.ping.v1') {
      m.respond(
        this.envelope(
          'actor.pong.v1',
          { actorId: this.id, kind: 'agent', pid: process.pid, processed: this.processed },
          { cause: msg.id },
        ),
      );
      return;
    }
    if (msg.type === 'agent.task.cancel.v1') {
      const b = msg.body as { taskId: string };
      if (this.current?.body.taskId === b.taskId)
        this.finish('cancelled', { code: 'GOV_ERR_RUN_CANCELLED', message: 'cancelled', retryable: false });
      return;
    }
    if (msg.type !== 'agent.task.assign.v1') {
      if (m.reply)
        refuse(m, 'GOV_ERR_UNHANDLED_MESSAGE', `agent ${this.id} does not handle ${msg.type}`, false);
      return;
    }
    this.onAssign(m, msg, msg.body as AssignBody);
  }

  private onAssign(m: Msg, msg: Incoming, body: AssignBody): void {
    const { id, tier } = this;
    if (TIER_RANK[tier] < TIER_RANK[body.requiredTier]) {
      refuse(
        m,
        'GOV_ERR_TIER_FORBIDDEN',
        `agent ${id} is ${tier}; the task needs ${body.requiredTier}`,
        false,
      );
      return;
    }
    if (this.current) {
      refuse(m, 'GOV_ERR_INVALID_TRANSITION', `agent ${id} is busy with ${this.current.body.taskId}`, true);
      return;
    }
    this.current = { body, began: Date.now() };
    this.started.push(body);
    m.respond(
      this.envelope(
        'agent.task.accepted.v1',
        { taskId: body.taskId, runId: body.runId, stageId: body.stageId, attempt: body.attempt, agentId: id },
        { cause: msg.id, corr: msg.corr ?? msg.id, run: body.runId },
      ),
    );
    this.options.onStart?.(body);
    this.run(this.current, body);
  }

  /** Runs the task it has just accepted: noop and fail at once, sleep on a timer. */
  private run(current: { timer?: NodeJS.Timeout }, body: AssignBody): void {
    const task = body.task;
    if (task.kind === 'noop') this.finish('succeeded');
    else if (task.kind === 'fail')
      this.finish('failed', {
        code: task.code ?? 'GOV_ERR_INTERNAL',
        message: task.message ?? 'fail task',
        retryable: false,
      });
    else if (task.kind === 'sleep') {
      current.timer = setTimeout(() => this.finish('succeeded'), task.ms ?? 0);
      this.nc.publish(
        body.replyTo,
        this.envelope('agent.task.progress.v1', {
          taskId: body.taskId,
          runId: body.runId,
          stageId: body.stageId,
          attempt: body.attempt,
          agentId: this.id,
          fraction: 0,
        }),
      );
    } else {
      this.finish('failed', {
        code: 'GOV_ERR_UNHANDLED_MESSAGE',
        message: `this agent cannot run ${task.kind} tasks`,
        retryable: false,
      });
    }
  }
}

/** An error answer in `Gov-Error-*` headers. */
function refuse(m: Msg, code: string, message: string, retryable: boolean): void {
  const h = headers();
  h.set('Gov-Error-Code', code);
  h.set('Gov-Error-Message', message);
  h.set('Gov-Error-Retryable', String(retryable));
  m.respond(new Uint8Array(0), { headers: h });
}
