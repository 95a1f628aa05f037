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

export async function startPlainAgent(options: PlainAgentOptions): Promise<PlainAgent> {
  const { id } = options;
  const tier = options.tier ?? 'T1';
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const from = `gov.actor.agent.${id}`;
  const nc: NatsConnection = await connect({
    servers: options.servers,
    name: from,
    authenticator: credsAuthenticator(enc.encode(options.creds)),
    // The only reply inbox an agent's credential may subscribe to.
    inboxPrefix: `_INBOX.agent-${id}`,
  });
  const startedAt = Date.now();
  const started: AssignBody[] = [];
  let current: { body: AssignBody; timer?: NodeJS.Timeout; began: number } | undefined;
  let seq = 0;
  let processed = 0;

  const envelope = (type: string, body: unknown, extra: Record<string, unknown> = {}) =>
    enc.encode(JSON.stringify({ sv: 1, type, id: randomUUID(), ts: Date.now(), from, ...extra, body }));
  const jsonOnly = options.encoding === 'json';
  const received: Array<{ type: string; format: 'json' | 'msgpack' }> = [];
  let undecodable = 0;
  const decode = (m: Msg): { type: string; id: string; corr?: string; body: unknown } => {
    const isJson = m.data[0] === 0x7b;
    if (!isJson && jsonOnly) {
      undecodable++;
      throw new Error('not JSON');
    }
    const msg = isJson ? JSON.parse(new TextDecoder().decode(m.data)) : unpack(m.data);
    received.push({ type: String(msg.type), format: isJson ? 'json' : 'msgpack' });
    return msg;
  };

  const status = () => ({
    agentId: id,
    state: current ? 'working' : 'idle',
    tier,
    ...(options.role ? { role: options.role } : {}),
    ...(options.team ? { team: options.team } : {}),
    capabilities: ['noop', 'sleep', 'fail'],
    restarts: 0,
    ...(jsonOnly ? { encoding: 'json' } : {}),
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
  });

  const heartbeat = () => {
    if (nc.isClosed()) return;
    nc.publish(
      `gov.sys.hb.agent.${id}`,
      envelope('actor.heartbeat.v1', {
        actorId: id,
        kind: 'agent',
        seq: seq++,
        pid: process.pid,
        host: hostname(),
        uptimeMs: Date.now() - startedAt,
        mailboxDepth: 0,
        processed,
        intervalMs: heartbeatMs,
        status: status(),
      }),
    );
  };

  const finish = (
    outcome: 'succeeded' | 'failed' | 'cancelled',
    error?: { code: string; message: string; retryable: boolean },
  ) => {
    if (!current) return;
    const { body, timer, began } = current;
    if (timer) clearTimeout(timer);
    current = undefined;
    if (nc.isClosed()) return;
    nc.publish(
      body.replyTo,
      envelope(
        'agent.task.result.v1',
        {
          taskId: body.taskId,
          runId: body.runId,
          stageId: body.stageId,
          attempt: body.attempt,
          agentId: id,
          status: outcome,
          durationMs: Date.now() - began,
          ...(error ? { error } : {}),
          ...(outcome === 'succeeded' ? { output: { by: id, pipelineId: body.env.PIPELINE_ID } } : {}),
        },
        { run: body.runId },
      ),
    );
  };

  const refuse = (m: Msg, code: string, message: string, retryable: boolean) => {
    const h = headers();
    h.set('Gov-Error-Code', code);
    h.set('Gov-Error-Message', message);
    h.set('Gov-Error-Retryable', String(retryable));
    m.respond(new Uint8Array(0), { headers: h });
  };

  nc.subscribe(from, {
    callback: (err, m) => {
      if (err) return;
      let msg: ReturnType<typeof decode>;
      try {
        msg = decode(m);
      } catch {
        return;
      }
      processed++;
      if (msg.type === 'actor.ping.v1') {
        m.respond(
          envelope(
            'actor.pong.v1',
            { actorId: id, kind: 'agent', pid: process.pid, processed },
            { cause: msg.id },
          ),
        );
        return;
      }
      if (msg.type === 'agent.task.cancel.v1') {
        const b = msg.body as { taskId: string };
        if (current?.body.taskId === b.taskId)
          finish('cancelled', { code: 'GOV_ERR_RUN_CANCELLED', message: 'cancelled', retryable: false });
        return;
      }
      if (msg.type !== 'agent.task.assign.v1') {
        if (m.reply) refuse(m, 'GOV_ERR_UNHANDLED_MESSAGE', `agent ${id} does not handle ${msg.type}`, false);
        return;
      }
      const body = msg.body as AssignBody;
      if (TIER_RANK[tier] < TIER_RANK[body.requiredTier]) {
        refuse(
          m,
          'GOV_ERR_TIER_FORBIDDEN',
          `agent ${id} is ${tier}; the task needs ${body.requiredTier}`,
          false,
        );
        return;
      }
      if (current) {
        refuse(m, 'GOV_ERR_INVALID_TRANSITION', `agent ${id} is busy with ${current.body.taskId}`, true);
        return;
      }
      current = { body, began: Date.now() };
      started.push(body);
      m.respond(
        envelope(
          'agent.task.accepted.v1',
          {
            taskId: body.taskId,
            runId: body.runId,
            stageId: body.stageId,
            attempt: body.attempt,
            agentId: id,
          },
          { cause: msg.id, corr: msg.corr ?? msg.id, run: body.runId },
        ),
      );
      options.onStart?.(body);
      const task = body.task;
      if (task.kind === 'noop') finish('succeeded');
      else if (task.kind === 'fail')
        finish('failed', {
          code: task.code ?? 'GOV_ERR_INTERNAL',
          message: task.message ?? 'fail task',
          retryable: false,
        });
      else if (task.kind === 'sleep') {
        const ms = task.ms ?? 0;
        current.timer = setTimeout(() => finish('succeeded'), ms);
        nc.publish(
          body.replyTo,
          envelope('agent.task.progress.v1', {
            taskId: body.taskId,
            runId: body.runId,
            stageId: body.stageId,
            attempt: body.attempt,
            agentId: id,
            fraction: 0,
          }),
        );
      } else {
        finish('failed', {
          code: 'GOV_ERR_UNHANDLED_MESSAGE',
          message: `this agent cannot run ${task.kind} tasks`,
          retryable: false,
        });
      }
    },
  });
  await nc.flush();
  const register = () => nc.publish(agentRegisterSubject(tier, id), envelope('agent.register.v1', status()));
  register();
  heartbeat();
  // Registered again with every heartbeat: receivers believe a heartbeat's tier only up to the tier
  // of the last registration they heard (its subject is the credential's), and may have restarted.
  const hb = setInterval(() => {
    register();
    heartbeat();
  }, heartbeatMs);

  return {
    id,
    started,
    received,
    get undecodable() {
      return undecodable;
    },
    get state() {
      return current ? ('working' as const) : ('idle' as const);
    },
    async stop() {
      clearInterval(hb);
      if (current?.timer) clearTimeout(current.timer);
      if (!nc.isClosed()) {
        nc.publish(
          `gov.sys.exit.agent.${id}`,
          envelope('actor.exit.v1', {
            actorId: id,
            kind: 'agent',
            pid: process.pid,
            incarnation: id,
            reason: 'shutdown',
          }),
        );
        await nc.drain();
      }
    },
    async kill() {
      clearInterval(hb);
      if (current?.timer) clearTimeout(current.timer);
      current = undefined;
      if (!nc.isClosed()) await nc.close();
    },
  };
}
