import type { NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentDirectoryKind } from '../../actors/agent-directory.ts';
import { gatewayKind } from '../../actors/gateway/gateway.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import { AUDIT_STREAM } from '../../bus/streams.ts';
import type { Logger } from '../../infra/logger.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { ForbiddenError, NotFoundError, PipelineInvalidError } from '../../protocols/vocabulary/errors.ts';
import {
  actorInbox,
  agentRegisterSubject,
  allErrors,
  auditPublishers,
  auditSenderOf,
  errorsSubject,
  heartbeatSubject,
  serviceQueue,
  serviceSubject,
} from '../../protocols/subjects.ts';
import {
  collect,
  rawConnect,
  type ServeHandler,
  serve,
  TestServers,
  testBus,
  waitFor,
} from '../harness/index.ts';

const KEYS = {
  viewer: 'viewer-key-0123456789abcdef',
  ops: 'ops-key-0123456789abcdef0123',
  admin: 'admin-key-0123456789abcdef01',
};
const API_KEYS = `viewer:T0:${KEYS.viewer},ops:T1:${KEYS.ops},admin:T2:${KEYS.admin}`;
const BODY_LIMIT = 4_096;

const servers = new TestServers();
let nats: NatsServer;
/** A bare connection, for sending what no Bus would (garbage bytes, a request without an envelope). */
let raw: NatsConnection;
let client: Bus;
let gateway: ActorHandle;
let base: string;
const logLines: string[] = [];

/** A logger that keeps every line (at every level), to prove keys are never logged. */
function capturingLogger(bound: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    logLines.push(JSON.stringify({ level, msg, ...bound, ...fields }));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (f) => capturingLogger({ ...bound, ...f }),
  };
}

/** A small real subscriber standing in for an actor kind's service subject. */
async function stub(kind: string, handler: ServeHandler) {
  const seen: Envelope[] = [];
  const sub = serve(
    client,
    serviceSubject(kind),
    (env, ctx) => {
      seen.push(env);
      return handler(env, ctx);
    },
    { queue: serviceQueue(kind) },
  );
  await client.flush();
  return {
    seen,
    close: async () => {
      sub.unsubscribe();
      await client.flush();
    },
  };
}

interface CallOptions {
  key?: keyof typeof KEYS;
  authorization?: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
}

async function call(method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = {};
  if (options.key) headers.authorization = `Bearer ${KEYS[options.key]}`;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are free-form JSON, checked field by field with expect()
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A run.state.v1 body, as the orchestrator answers it. */
const runState = (runId: string) => ({
  runId,
  pipeline: 'hello',
  status: 'running' as const,
  params: {},
  createdAt: 1,
  stages: [{ stageId: 'greet', status: 'running' as const, attempt: 1 }],
});

const yaml = (tier: string) =>
  `name: hello\nversion: 1\nstages:\n  - id: greet\n    agent: { tier: ${tier} }\n    task: { kind: noop }\n`;

beforeAll(async () => {
  nats = await servers.nats();
  raw = await rawConnect(nats);
  servers.onStop(() => raw.close());
  client = await testBus(nats.url);
  servers.onStop(() => client.close());
  const hb = collect(client, heartbeatSubject('gateway', 'gw-1'));
  await hb.ready();
  gateway = await runActor(gatewayKind, {
    id: 'gw-1',
    args: { port: 0, apiKeys: API_KEYS, askTimeoutMs: 500, bodyLimitBytes: BODY_LIMIT },
    bus: { servers: nats.url },
    heartbeatMs: 200,
    log: capturingLogger(),
  });
  servers.onStop(async () => {
    await gateway.stop();
  });
  const beat = await hb.next(
    (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
  );
  base = (beat as Envelope<'actor.heartbeat.v1'>).body.status!.url as string;
  hb.close();
});
afterAll(() => servers.stopAll());

describe('gateway: authentication and input', () => {
  it('answers /health without a key while connected to the bus', async () => {
    const r = await call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', bus: 'connected', gateway: actorInbox('gateway', 'gw-1') });
  });

  it('answers 401 GOV_ERR_UNAUTHENTICATED without a key, with a bad key and with a malformed header', async () => {
    for (const opts of [
      {},
      { authorization: 'Bearer not-a-configured-key-000000' },
      { authorization: `Basic ${KEYS.admin}` },
    ]) {
      const r = await call('GET', '/api/agents', opts);
      expect(r.status).toBe(401);
      expect(r.json.error).toMatchObject({ code: 'GOV_ERR_UNAUTHENTICATED', retryable: false });
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.text).not.toContain(KEYS.admin);
    }
  });

  it('answers 403 GOV_ERR_FORBIDDEN to a T0 key on a T2 route, before touching the bus', async () => {
    const authority = await stub('token-authority', () => ({ type: 'ack.v1', body: { ok: true } }));
    const r = await call('POST', '/api/pipeline/token', { key: 'viewer', body: { runId: 'r-1' } });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({
      code: 'GOV_ERR_FORBIDDEN',
      details: { required: 'T2', tier: 'T0', keyName: 'viewer' },
    });
    expect(authority.seen).toHaveLength(0);
    await authority.close();
  });

  it('answers 400 naming the field for a bad body, bad JSON, unknown fields and bad query parameters', async () => {
    const bad = await call('POST', '/api/pipeline/errors', {
      key: 'ops',
      body: { runId: 'has space', outcome: 'maybe' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('GOV_ERR_INVALID_MESSAGE');
    expect(bad.json.error.message).toContain('body.runId');
    expect(bad.json.error.message).toContain('body.outcome');
    expect(bad.json.error.details.field).toBe('body.runId');

    const notJson = await call('POST', '/api/pipeline/errors', { key: 'ops', rawBody: '{"runId": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatchObject({ code: 'GOV_ERR_INVALID_MESSAGE', details: { field: 'body' } });

    const unknown = await call('POST', '/api/pipeline/errors', {
      key: 'ops',
      body: { runId: 'r-1', outcome: 'error', severity: 'high' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/severity/);

    const noBody = await call('POST', '/api/pipelines', { key: 'ops' });
    expect(noBody.status).toBe(400);
    expect(noBody.json.error.details.field).toBe('body');

    const query = await call('GET', '/api/pipeline/errors', { key: 'viewer' });
    expect(query.status).toBe(400);
    expect(query.json.error.details.field).toBe('query.runId');

    const media = await call('POST', '/api/pipeline/errors', {
      key: 'ops',
      rawBody: 'runId=r-1',
      contentType: 'text/plain',
    });
    expect(media.status).toBe(415);
    expect(media.json.error.code).toBe('GOV_ERR_INVALID_MESSAGE');
  });

  it('answers 413 GOV_ERR_PAYLOAD_TOO_LARGE to a body over the limit', async () => {
    const r = await call('POST', '/api/pipelines', {
      key: 'ops',
      body: { yaml: `# ${'x'.repeat(BODY_LIMIT * 2)}\n${yaml('T0')}` },
    });
    expect(r.status).toBe(413);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_PAYLOAD_TOO_LARGE', retryable: false });
  });

  it('answers unknown routes with a 404 error body and keeps serving after garbage', async () => {
    const r = await call('GET', '/api/nope?x=1');
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_NOT_FOUND' });
    for (const raw of ['', 'null', '[]', '"str"', '{"__proto__": {"x": 1}}', '\u0000\u0001']) {
      const g = await call('POST', '/api/pipelines', { key: 'ops', rawBody: raw });
      expect(g.status).toBeGreaterThanOrEqual(400);
      expect(g.status).toBeLessThan(500);
      expect(g.json.error.code).toBe('GOV_ERR_INVALID_MESSAGE');
    }
    expect((await call('GET', '/health')).status).toBe(200);
    expect(gateway.state).toBe('running');
  });
});

describe('gateway: every error in the documented shape, and a rate limit without a valid key', () => {
  /** One raw HTTP exchange: what Node's parser refuses never reaches Fastify's request handling. */
  async function rawExchange(request: string): Promise<{ status: number; body: unknown }> {
    const { hostname: host, port } = new URL(base);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host, port: Number(port) }, () => socket.write(request));
      let got = '';
      socket.on('data', (d) => {
        got += d.toString('utf8');
      });
      socket.on('end', () => resolve(got));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), body: JSON.parse(body) as unknown };
  }

  const documented = (body: unknown) =>
    expect(body).toEqual({
      error: expect.objectContaining({
        code: expect.stringMatching(/^GOV_ERR_/),
        message: expect.any(String),
        retryable: expect.any(Boolean),
      }),
    });

  it("regression: a 101-128 character id reaches the route (it answered Fastify's own 414 shape); longer ids get the documented 400 / 414", async () => {
    const orch = await stub('orchestrator', (env) => {
      if (env.type === 'run.get.v1') throw new NotFoundError(`no run ${env.body.runId}`);
      return undefined;
    });
    try {
      for (const n of [101, 128]) {
        const r = await call('GET', `/api/pipelines/${'a'.repeat(n)}`, { key: 'viewer' });
        expect(r.status).toBe(404);
        expect(r.json.error.code).toBe('GOV_ERR_NOT_FOUND');
      }
      const over = await call('GET', `/api/pipelines/${'a'.repeat(129)}`, { key: 'viewer' });
      expect(over.status).toBe(400);
      expect(over.json.error).toMatchObject({
        code: 'GOV_ERR_INVALID_MESSAGE',
        details: { field: 'params.id' },
      });
      const huge = await call('GET', `/api/pipelines/${'a'.repeat(300)}`, { key: 'viewer' });
      expect(huge.status).toBe(414);
      documented(huge.json);
      expect(huge.json.error.details).toEqual({ reason: 'max-param-length' });
    } finally {
      await orch.close();
    }
  });

  it('answers a URL that does not decode, a malformed request and oversized headers in the documented shape', async () => {
    const bad = await call('GET', '/api/pipelines/%E0%A4%A', { key: 'viewer' });
    expect(bad.status).toBe(400);
    documented(bad.json);
    const garbage = await rawExchange('BLAH\r\n\r\n');
    expect(garbage.status).toBe(400);
    documented(garbage.body);
    const headers = await rawExchange(
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(headers.status).toBe(431);
    documented(headers.body);
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('limits requests without a valid key (none or a wrong one) with 429 and Retry-After; valid keys and /health are not limited', async () => {
    const hb = collect(client, heartbeatSubject('gateway', 'gw-limited'));
    await hb.ready();
    const limited = await runActor(gatewayKind, {
      id: 'gw-limited',
      args: {
        port: 0,
        apiKeys: API_KEYS,
        askTimeoutMs: 500,
        unauthenticatedRateMax: 5,
        rateLimitWindowMs: 60_000,
      },
      bus: { servers: nats.url },
      heartbeatMs: 200,
    });
    try {
      const beat = await hb.next(
        (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
      );
      const url = (beat as Envelope<'actor.heartbeat.v1'>).body.status!.url as string;
      const get = (path: string, key?: string) =>
        fetch(`${url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
      // 400 concurrent unauthenticated requests were all served before; now only the first five are.
      const flood = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          get('/api/agents', i % 2 === 0 ? undefined : 'wrong-key-0123456789abcdef'),
        ),
      );
      const statuses = flood.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(25);
      const refused = flood.find((r) => r.status === 429)!;
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await refused.json()) as { error: unknown };
      expect(body.error).toMatchObject({ code: 'GOV_ERR_RATE_LIMITED', retryable: true });
      // Public routes other than /health count too; a valid key is never limited, nor is /health.
      expect((await get('/api/nope')).status).toBe(429);
      expect((await get('/api/openapi.json')).status).toBe(429);
      const valid = await get('/api/agents', KEYS.viewer);
      expect(valid.status).not.toBe(429);
      expect(valid.status).not.toBe(401);
      expect((await get('/health')).status).toBe(200);
      expect((await get('/api/agents', 'wrong-key-0123456789abcdef')).status).toBe(429);
    } finally {
      hb.close();
      await limited.stop();
    }
  });
});

describe("gateway: a key acts on and reads a run by the run's tier", () => {
  const secret = 'stolen-admin-secret-9f8e7d';
  const runs = {
    'run-admin': { ...runState('run-admin'), tier: 'T2' as const },
    'run-ops': { ...runState('run-ops'), tier: 'T1' as const },
    'run-old': runState('run-old'),
  };
  const withOutput = (r: ReturnType<typeof runState>) => ({
    ...r,
    stages: [
      {
        stageId: 'greet',
        status: 'failed' as const,
        attempt: 1,
        output: { stdout: `token=${secret}` },
        error: {
          code: 'GOV_ERR_TASK_FAILED',
          message: 'exit 1',
          retryable: false,
          details: { stderr: secret },
        },
      },
    ],
  });
  const orchestrator = () =>
    stub('orchestrator', (env) => {
      if (env.type === 'run.get.v1') {
        const r = runs[env.body.runId as keyof typeof runs];
        if (!r) throw new NotFoundError(`no run ${env.body.runId}`);
        return { type: 'run.state.v1', body: withOutput(r) };
      }
      if (env.type === 'run.list.v1')
        return { type: 'run.states.v1', body: { runs: Object.values(runs).map(withOutput) } };
      return undefined;
    });

  it("refuses a T1 key's error report against an admin's run (403) or an unknown run (404), publishing nothing; T2 reports on any run", async () => {
    const orch = await orchestrator();
    try {
      const reports = collect(client, allErrors());
      await reports.ready();
      const audit = collect(client, auditPublishers('api'));
      await audit.ready();
      const report = (key: keyof typeof KEYS, runId: string) =>
        call('POST', '/api/pipeline/errors', { key, body: { runId, outcome: 'error', code: 'X' } });

      const forbidden = await report('ops', 'run-admin');
      expect(forbidden.status).toBe(403);
      expect(forbidden.json.error).toMatchObject({
        code: 'GOV_ERR_FORBIDDEN',
        details: { required: 'T2', runId: 'run-admin' },
      });
      expect((await report('ops', 'run-old')).status).toBe(403);
      const unknown = await report('ops', 'run-nobody');
      expect(unknown.status).toBe(404);
      // Controls: the same key on its own tier's run, and the admin key on any run, are published.
      expect((await report('ops', 'run-ops')).status).toBe(202);
      expect((await report('admin', 'run-admin')).status).toBe(202);
      expect((await report('admin', 'run-nobody')).status).toBe(202);
      await reports.next((e) => e.type === 'budget.report.v1' && e.body.runId === 'run-nobody');
      await client.flush();
      const published = reports.seen as Envelope<'budget.report.v1'>[];
      expect(published.map((e) => `${e.body.runId}:${e.body.source}`).sort()).toEqual([
        'run-admin:api:admin',
        'run-nobody:api:admin',
        'run-ops:api:ops',
      ]);
      // The refusal leaves its audit record and nothing else.
      const refused = await audit.next(
        (e) => e.type === 'api.call.v1' && e.body.status === 403 && e.body.runId === 'run-admin',
      );
      expect(refused.body).toMatchObject({
        keyName: 'ops',
        route: '/api/pipeline/errors',
        errorCode: 'GOV_ERR_FORBIDDEN',
      });
      reports.close();
      audit.close();
    } finally {
      await orch.close();
    }
  });

  it("redacts stage outputs and error details for keys below the run's tier, in one run and in the list", async () => {
    const orch = await orchestrator();
    try {
      const viewer = await call('GET', '/api/pipelines/run-admin', { key: 'viewer' });
      expect(viewer.status).toBe(200);
      expect(viewer.text).not.toContain(secret);
      expect(viewer.json.stages[0]).toMatchObject({
        output: '[REDACTED: below the run tier]',
        error: { code: 'GOV_ERR_TASK_FAILED', details: { redacted: true } },
      });
      expect((await call('GET', '/api/pipelines/run-admin', { key: 'ops' })).text).not.toContain(secret);
      // A run state without a tier counts as T2.
      expect((await call('GET', '/api/pipelines/run-old', { key: 'ops' })).text).not.toContain(secret);
      const list = await call('GET', '/api/pipelines', { key: 'viewer' });
      expect(list.status).toBe(200);
      expect(list.json.runs).toHaveLength(3);
      expect(list.text).not.toContain(secret);
      // Controls: a key at the run's tier reads the output.
      expect((await call('GET', '/api/pipelines/run-admin', { key: 'admin' })).json.stages[0].output).toEqual(
        {
          stdout: `token=${secret}`,
        },
      );
      expect((await call('GET', '/api/pipelines/run-ops', { key: 'ops' })).text).toContain(secret);
    } finally {
      await orch.close();
    }
  });
});

describe('gateway: routes each HTTP call over the real bus to its service subject (stub services answer; the services themselves are tested in their own suites)', () => {
  it('POST /api/pipelines starts a run at the orchestrator and answers 202 with its id', async () => {
    const orch = await stub('orchestrator', (env) =>
      env.type === 'run.request.v1'
        ? { type: 'run.accepted.v1', body: { runId: 'run-42', pipeline: 'hello', stages: ['greet'] } }
        : undefined,
    );
    const r = await call('POST', '/api/pipelines', {
      key: 'ops',
      body: { yaml: yaml('T1'), params: { n: 1 } },
    });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({
      runId: 'run-42',
      pipeline: 'hello',
      stages: ['greet'],
      location: '/api/pipelines/run-42',
    });
    expect(r.headers.get('location')).toBe('/api/pipelines/run-42');
    expect(orch.seen[0]).toMatchObject({
      type: 'run.request.v1',
      body: { yaml: yaml('T1'), params: { n: 1 }, requestedBy: 'api:ops' },
    });

    const above = await call('POST', '/api/pipelines', { key: 'ops', body: { yaml: yaml('T2') } });
    expect(above.status).toBe(403);
    const file = await call('POST', '/api/pipelines', { key: 'ops', body: { file: 'examples/hello.yaml' } });
    expect(file.status).toBe(403);
    expect(orch.seen).toHaveLength(1);
    await orch.close();
  });

  it('POST /api/pipelines answers 400 with the diagnostics when the orchestrator finds the pipeline invalid', async () => {
    const diagnostics = [
      { file: '<inline>', line: 2, column: 3, code: 'schema', message: 'stages: required' },
    ];
    const orch = await stub('orchestrator', () => {
      throw new PipelineInvalidError('pipeline <inline> is invalid (1 problem(s))', {
        details: { file: '<inline>', diagnostics },
      });
    });
    const r = await call('POST', '/api/pipelines', { key: 'ops', body: { yaml: 'name: x\n' } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_PIPELINE_INVALID', details: { diagnostics } });
    await orch.close();
  });

  it('GET /api/pipelines/:id and GET /api/pipelines ask the orchestrator; an unknown run is 404', async () => {
    const state = {
      runId: 'run-42',
      pipeline: 'hello',
      status: 'running' as const,
      params: {},
      createdAt: 1,
      stages: [{ stageId: 'greet', status: 'running' as const, attempt: 1 }],
    };
    const orch = await stub('orchestrator', (env) => {
      if (env.type === 'run.get.v1') {
        if (env.body.runId !== 'run-42') throw new NotFoundError(`no run ${env.body.runId}`);
        return { type: 'run.state.v1', body: state };
      }
      if (env.type === 'run.list.v1')
        return { type: 'run.states.v1', body: { runs: [state].slice(0, env.body.limit) } };
      return undefined;
    });
    const one = await call('GET', '/api/pipelines/run-42', { key: 'viewer' });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ runId: 'run-42', status: 'running', stages: [{ stageId: 'greet' }] });
    const missing = await call('GET', '/api/pipelines/run-404', { key: 'viewer' });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('GOV_ERR_NOT_FOUND');
    const list = await call('GET', '/api/pipelines?limit=5&status=running', { key: 'viewer' });
    expect(list.status).toBe(200);
    expect(list.json.runs).toHaveLength(1);
    expect(orch.seen.find((e) => e.type === 'run.list.v1')?.body).toEqual({ status: 'running', limit: 5 });
    await orch.close();
  });

  it('POST /api/pipeline/token issues and renews through the token actors and never returns a token', async () => {
    const now = Date.now();
    const authority = await stub('token-authority', (env) =>
      env.type === 'token.issue.v1'
        ? {
            type: 'token.issued.v1',
            body: {
              runId: env.body.runId,
              accessor: 'acc-1',
              policies: ['agov-run'],
              expiresAt: now + 60_000,
              maxExpiresAt: now + 600_000,
              created: true,
            },
          }
        : undefined,
    );
    const renewer = await stub('token-renewer', (env) =>
      env.type === 'token.renew.v1'
        ? {
            type: 'token.renewed.v1',
            body: {
              runs:
                env.body.runId === 'run-42'
                  ? [
                      {
                        runId: 'run-42',
                        accessor: 'acc-1',
                        expiresAt: now + 120_000,
                        renewals: 1,
                        atMaxTtl: false,
                      },
                    ]
                  : [],
            },
          }
        : undefined,
    );
    const issued = await call('POST', '/api/pipeline/token', {
      key: 'admin',
      body: { runId: 'run-42', pipeline: 'hello' },
    });
    expect(issued.status).toBe(200);
    expect(issued.json).toMatchObject({
      runId: 'run-42',
      action: 'issue',
      accessor: 'acc-1',
      created: true,
      policies: ['agov-run'],
    });
    expect(issued.json.ttlMs).toBeGreaterThan(0);
    expect(issued.json.ttlMs).toBeLessThanOrEqual(60_000);
    expect(Object.keys(issued.json)).not.toContain('token');
    expect(authority.seen[0]).toMatchObject({
      type: 'token.issue.v1',
      body: { runId: 'run-42', pipeline: 'hello' },
    });

    const renewed = await call('POST', '/api/pipeline/token', {
      key: 'admin',
      body: { runId: 'run-42', action: 'renew' },
    });
    expect(renewed.status).toBe(200);
    expect(renewed.json).toMatchObject({
      runId: 'run-42',
      action: 'renew',
      accessor: 'acc-1',
      renewals: 1,
      atMaxTtl: false,
    });
    const none = await call('POST', '/api/pipeline/token', {
      key: 'admin',
      body: { runId: 'run-0', action: 'renew' },
    });
    expect(none.status).toBe(404);
    await authority.close();
    await renewer.close();
  });

  it("POST /api/pipeline/errors publishes budget.report.v1 on the run's errors subject; GET reads the budget monitor", async () => {
    const orch = await stub('orchestrator', (env) => {
      if (env.type !== 'run.get.v1') return undefined;
      if (env.body.runId !== 'run-42') throw new NotFoundError(`no run ${env.body.runId}`);
      return { type: 'run.state.v1', body: { ...runState('run-42'), tier: 'T1' as const } };
    });
    const reports = collect(client, errorsSubject('run-42'));
    await reports.ready();
    const r = await call('POST', '/api/pipeline/errors', {
      key: 'ops',
      body: {
        runId: 'run-42',
        outcome: 'error',
        source: 'ci',
        code: 'GOV_ERR_TIMEOUT',
        message: 'slow',
        stageId: 'greet',
      },
    });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({
      accepted: true,
      runId: 'run-42',
      subject: 'gov.errors.run-42',
      source: 'api:ops:ci',
    });
    const report = await reports.next((e) => e.type === 'budget.report.v1');
    expect(report.body).toMatchObject({
      runId: 'run-42',
      outcome: 'error',
      source: 'api:ops:ci',
      code: 'GOV_ERR_TIMEOUT',
      stageId: 'greet',
    });
    reports.close();
    await orch.close();

    const monitor = await stub('budget-monitor', (env) =>
      env.type === 'budget.status.v1'
        ? {
            type: 'budget.state.v1',
            body: {
              runId: env.body.runId,
              kind: 'count',
              verdict: 'warn',
              breached: false,
              windows: [{ windowMs: 600_000, errors: 4, total: 4, burnRate: 0.8 }],
            },
          }
        : undefined,
    );
    const state = await call('GET', '/api/pipeline/errors?runId=run-42', { key: 'viewer' });
    expect(state.status).toBe(200);
    expect(state.json).toMatchObject({
      runId: 'run-42',
      kind: 'count',
      verdict: 'warn',
      windows: [{ errors: 4 }],
    });
    await monitor.close();
  });

  it('GET /api/observability/handoff reads one report by id or the list of a run', async () => {
    const report = {
      reportId: 'h-1',
      runId: 'run-42',
      createdAt: 5,
      reason: 'budget-exhausted',
      failing: { stageId: 'greet' },
      budget: { kind: 'count' as const, verdict: 'breach' as const, windows: [] },
      errors: { total: 6, byCode: { GOV_ERR_TIMEOUT: 6 }, timeline: [] },
      token: { revoked: true, suspendedAgents: [] },
      diagnostic: { pipeline: 'diagnostic', runId: 'run-43' },
      ledger: { stream: 'AUDIT', subjects: ['gov.audit.run'], toTs: 5, runIds: ['run-42'] },
      nextSteps: ['read the diagnostic run'],
    };
    const handoff = await stub('handoff', (env) => {
      if (env.type === 'handoff.get.v1') {
        if (env.body.reportId !== 'h-1') throw new NotFoundError('no report');
        return { type: 'handoff.report.v1', body: { report } };
      }
      if (env.type === 'handoff.list.v1')
        return {
          type: 'handoff.reports.v1',
          body: {
            runId: env.body.runId,
            reports: [{ reportId: 'h-1', runId: 'run-42', createdAt: 5, reason: 'budget-exhausted' }],
          },
        };
      return undefined;
    });
    const one = await call('GET', '/api/observability/handoff?reportId=h-1', { key: 'viewer' });
    expect(one.status).toBe(200);
    expect(one.json.report).toMatchObject({
      reportId: 'h-1',
      runId: 'run-42',
      diagnostic: { runId: 'run-43' },
    });
    const list = await call('GET', '/api/observability/handoff?runId=run-42', { key: 'viewer' });
    expect(list.json).toMatchObject({ runId: 'run-42', reports: [{ reportId: 'h-1' }] });
    expect((await call('GET', '/api/observability/handoff?reportId=h-9', { key: 'viewer' })).status).toBe(
      404,
    );
    const both = await call('GET', '/api/observability/handoff?reportId=h-1&runId=run-42', { key: 'viewer' });
    expect(both.status).toBe(400);
    expect(both.json.error.message).toContain('exactly one of runId or reportId');
    await handoff.close();
  });

  it('POST /api/observability/handoff reports a violation to the token authority as the T2 key, and maps its refusal to 403', async () => {
    let refuse = false;
    const authority = await stub('token-authority', (env) => {
      if (env.type !== 'violation.report.v1') return undefined;
      if (refuse) throw new ForbiddenError('violation reports need a T2 or allowlisted reporter');
      return {
        type: 'token.revoked.v1',
        body: {
          runId: env.body.runId,
          accessor: 'acc-1',
          revoked: true,
          revokedAt: 7,
          reason: `policy-violation: ${env.body.policy}`,
          suspendedAgents: ['ag-1'],
        },
      };
    });
    const body = {
      runId: 'run-42',
      agentId: 'ag-1',
      policy: 'no-network',
      description: 'opened a socket',
      evidence: { host: 'example.org' },
    };
    const r = await call('POST', '/api/observability/handoff', { key: 'admin', body });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ runId: 'run-42', revoked: true, suspendedAgents: ['ag-1'] });
    expect(authority.seen[0]).toMatchObject({
      type: 'violation.report.v1',
      from: actorInbox('gateway', 'gw-1'),
      body: {
        runId: 'run-42',
        reporterTier: 'T2',
        policy: 'no-network',
        evidence: { host: 'example.org', reportedBy: 'api:admin' },
      },
    });
    expect((await call('POST', '/api/observability/handoff', { key: 'ops', body })).status).toBe(403);
    refuse = true;
    const refused = await call('POST', '/api/observability/handoff', { key: 'admin', body });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('GOV_ERR_FORBIDDEN');
    await authority.close();
  });

  it('POST /api/observability/diagnostic starts a child run of the diagnosed one', async () => {
    const orch = await stub('orchestrator', (env) =>
      env.type === 'run.request.v1'
        ? { type: 'run.accepted.v1', body: { runId: 'run-43', pipeline: 'diagnostic', stages: ['open'] } }
        : undefined,
    );
    const r = await call('POST', '/api/observability/diagnostic', {
      key: 'admin',
      body: { runId: 'run-42', params: { pipeline: 'hello' } },
    });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ runId: 'run-43', parentRunId: 'run-42', pipeline: 'diagnostic' });
    expect(orch.seen[0]).toMatchObject({
      type: 'run.request.v1',
      body: {
        file: 'examples/diagnostic.yaml',
        parentRunId: 'run-42',
        params: { failedRunId: 'run-42', pipeline: 'hello' },
        requestedBy: 'api:admin',
      },
    });
    await orch.close();
  });

  it('GET /api/agents and /api/agents/:id read the real agent directory', async () => {
    const directory = await runActor(agentDirectoryKind, { id: 'dir-1', bus: { servers: nats.url } });
    try {
      await client.ask(agentRegisterSubject('T1', 'ag-7'), {
        type: 'agent.register.v1',
        body: { agentId: 'ag-7', state: 'idle', tier: 'T1', team: 'core', restarts: 0 },
      });
      const all = await call('GET', '/api/agents', { key: 'viewer' });
      expect(all.status).toBe(200);
      expect(all.json.agents).toEqual(
        expect.arrayContaining([expect.objectContaining({ agentId: 'ag-7', tier: 'T1' })]),
      );
      const one = await call('GET', '/api/agents/ag-7', { key: 'viewer' });
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ agentId: 'ag-7', tier: 'T1', team: 'core' });
      const missing = await call('GET', '/api/agents/ag-404', { key: 'viewer' });
      expect(missing.status).toBe(404);
      expect((await call('GET', '/api/agents/bad.id', { key: 'viewer' })).status).toBe(400);
    } finally {
      await directory.stop();
    }
  });
});

describe('gateway: bus errors over HTTP', () => {
  it('answers 503 GOV_ERR_NO_RESPONDERS (retryable) when no actor serves the route', async () => {
    const r = await call('GET', '/api/pipeline/errors?runId=run-42', { key: 'viewer' });
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_NO_RESPONDERS', retryable: true });
  });

  it('answers 504 GOV_ERR_TIMEOUT when the actor does not answer in time', async () => {
    const silent = await stub('budget-monitor', () => new Promise<undefined>(() => undefined));
    const r = await call('GET', '/api/pipeline/errors?runId=run-42', { key: 'viewer' });
    expect(r.status).toBe(504);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_TIMEOUT', retryable: true });
    await silent.close();
  });
});

describe('gateway: observability of itself', () => {
  const sample = (text: string, line: string): number => {
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found ? Number(found.slice(line.length + 1)) : 0;
  };

  it('exposes Prometheus counters that move with requests and with rejected bus input', async () => {
    const before = (await call('GET', '/metrics')).text;
    await call('GET', '/health');
    await call('GET', '/api/agents');
    const res = await call('GET', '/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const after = res.text;
    const health = 'agov_gateway_http_requests_total{method="GET",route="/health",status="200"}';
    const denied = 'agov_gateway_http_requests_total{method="GET",route="/api/agents",status="401"}';
    expect(sample(after, health)).toBe(sample(before, health) + 1);
    expect(sample(after, denied)).toBe(sample(before, denied) + 1);
    expect(sample(after, 'agov_bus_events_total{event="asked"}')).toBeGreaterThan(0);

    raw.publish(actorInbox('gateway', 'gw-1'), new Uint8Array([0xc1, 0xff]));
    await client.flush();
    const rejected = await waitFor('the gateway to count the undecodable message', async () => {
      const t = (await call('GET', '/metrics')).text;
      return sample(t, 'agov_bus_rejected_total{code="GOV_ERR_DECODE"}') >= 1 ? t : undefined;
    });
    expect(sample(rejected, 'agov_bus_dead_lettered_total{code="GOV_ERR_DECODE"}')).toBeGreaterThanOrEqual(1);
  });

  it('serves the OpenAPI document identical to docs/openapi.json', async () => {
    const r = await call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/json');
    expect(r.text).toBe(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(r.json.paths['/api/pipelines'].post['x-agov-tier']).toBe('T1');
  });

  it('audits state-changing calls on the AUDIT stream with the key name and never the key', async () => {
    const raw: Uint8Array[] = [];
    const subjects: string[] = [];
    const sub = client.subscribeRaw(auditPublishers('api'), (m) => {
      raw.push(m.data);
      subjects.push(m.subject);
    });
    const audit = collect(client, auditPublishers('api'));
    await audit.ready();
    const authority = await stub('token-authority', (env) =>
      env.type === 'token.issue.v1'
        ? {
            type: 'token.issued.v1',
            body: {
              runId: env.body.runId,
              accessor: 'acc-9',
              policies: [],
              expiresAt: Date.now() + 1_000,
              maxExpiresAt: Date.now() + 2_000,
              created: true,
            },
          }
        : undefined,
    );
    expect(
      (await call('POST', '/api/pipeline/token', { key: 'admin', body: { runId: 'run-audit' } })).status,
    ).toBe(200);
    expect(
      (await call('POST', '/api/pipeline/token', { key: 'ops', body: { runId: 'run-audit' } })).status,
    ).toBe(403);
    expect((await call('POST', '/api/pipeline/token', { body: { runId: 'run-audit' } })).status).toBe(401);
    expect((await call('GET', '/api/pipeline/errors?runId=run-audit', { key: 'admin' })).status).toBe(503);

    const ok = await audit.next(
      (e) => e.type === 'api.call.v1' && e.body.runId === 'run-audit' && e.body.status === 200,
    );
    expect(ok.body).toMatchObject({
      method: 'POST',
      route: '/api/pipeline/token',
      keyName: 'admin',
      tier: 'T2',
      status: 200,
    });
    expect(ok.from).toBe(actorInbox('gateway', 'gw-1'));
    // Refused before the body is read, so the record names the key and the route but no run.
    const forbidden = await audit.next(
      (e) =>
        e.type === 'api.call.v1' &&
        e.body.keyName === 'ops' &&
        e.body.status === 403 &&
        e.body.route === '/api/pipeline/token',
    );
    expect(forbidden.body).toMatchObject({ method: 'POST', tier: 'T1', errorCode: 'GOV_ERR_FORBIDDEN' });
    // The 401 has no key to name and the GET changes nothing: neither is audited.
    expect(
      audit.seen.filter(
        (e) => e.type === 'api.call.v1' && (e.body.status === 401 || e.body.method === 'GET'),
      ),
    ).toHaveLength(0);

    const jsm = await client.jetstreamManager();
    // On the gateway's own audit subject: the broker lets it name only itself there.
    expect(subjects.length).toBeGreaterThan(0);
    expect(new Set(subjects).size).toBe(1);
    expect(auditSenderOf(subjects[0]!)).toBeDefined();
    const stored = await jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: subjects.at(-1)! });
    expect(stored?.subject).toBe(subjects.at(-1));
    const bytes = Buffer.concat([...raw.map((d) => Buffer.from(d)), Buffer.from(stored!.data)]).toString(
      'latin1',
    );
    for (const key of Object.values(KEYS)) expect(bytes).not.toContain(key);
    sub.unsubscribe();
    audit.close();
    await authority.close();
  });

  it('never writes an API key to its log', () => {
    expect(logLines.some((l) => l.includes('gateway listening'))).toBe(true);
    const all = logLines.join('\n');
    for (const key of Object.values(KEYS)) expect(all).not.toContain(key);
  });
});
