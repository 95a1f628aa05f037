/**
 * Attacks on run tiers through the HTTP gateway, against the real orchestrator and agents: a T1 key
 * tries to climb to T2 through what a pipeline names, to burn an admin run's budget, and to crash
 * admission with YAML. Each is refused with the documented status and leaves no run behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayKind } from '../../actors/gateway/gateway.ts';
import { runActor } from '../../actors/runtime/index.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { DEFAULT_MAX_PIPELINE_BYTES } from '../../protocols/pipeline/index.ts';
import { allErrors, heartbeatSubject, serviceSubject } from '../../protocols/subjects.ts';
import { collect } from '../harness/index.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const KEYS = {
  viewer: 'viewer-key-0123456789abcdef',
  ops: 'ops-key-0123456789abcdef0123',
  admin: 'admin-key-0123456789abcdef01',
};
const rig = new OrchestratorRig();
let base: string;

async function call(method: string, path: string, key: keyof typeof KEYS, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEYS[key]}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are free-form JSON, checked field by field
  return { status: res.status, text, json: JSON.parse(text) as any };
}

const pipeline = (name: string, tier: string, extra = '') =>
  `name: ${name}\nversion: 1\n${extra}stages:\n  - id: s\n    agent: { tier: ${tier} }\n    task: { kind: noop }\n`;

async function runIds(): Promise<string[]> {
  return (await call('GET', '/api/pipelines?limit=1000', 'admin')).json.runs.map(
    (r: { runId: string }) => r.runId,
  );
}

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator();
  await rig.agent('ag-t1', { tier: 'T1' });
  await rig.agent('ag-t2', { tier: 'T2' });
  const hb = collect(rig.client, heartbeatSubject('gateway', 'gw-tier'));
  await hb.ready();
  const gw = await runActor(gatewayKind, {
    id: 'gw-tier',
    args: {
      port: 0,
      apiKeys: `viewer:T0:${KEYS.viewer},ops:T1:${KEYS.ops},admin:T2:${KEYS.admin}`,
      bodyLimitBytes: 4 * DEFAULT_MAX_PIPELINE_BYTES,
    },
    bus: { servers: rig.nats.url },
    heartbeatMs: 200,
  });
  rig.servers.onStop(async () => {
    await gw.stop();
  });
  const beat = await hb.next(
    (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
  );
  base = (beat as Envelope<'actor.heartbeat.v1'>).body.status!.url as string;
  hb.close();
}, 60_000);
afterAll(() => rig.stop());

describe('runs carry their tier; a T1 key acts only on runs of its tier', () => {
  let adminRun: string;
  let opsRun: string;

  it('admits each run at its effective tier, which the run state carries', async () => {
    const a = await call('POST', '/api/pipelines', 'admin', { yaml: pipeline('admin-run', 'T2') });
    expect(a.status).toBe(202);
    adminRun = a.json.runId;
    const o = await call('POST', '/api/pipelines', 'ops', { yaml: pipeline('ops-run', 'T1') });
    expect(o.status).toBe(202);
    opsRun = o.json.runId;
    await rig.finished(adminRun);
    await rig.finished(opsRun);
    expect((await call('GET', `/api/pipelines/${adminRun}`, 'viewer')).json).toMatchObject({
      tier: 'T2',
      status: 'succeeded',
    });
    expect((await call('GET', `/api/pipelines/${opsRun}`, 'viewer')).json.tier).toBe('T1');
  });

  it("refuses a T1 key's error reports against an admin's run (403) and an unknown run (404), and publishes none", async () => {
    const reports = collect(rig.client, allErrors());
    await reports.ready();
    const report = (runId: string) =>
      call('POST', '/api/pipeline/errors', 'ops', { runId, outcome: 'error', code: 'BURN' });
    for (let i = 0; i < 3; i++) {
      const r = await report(adminRun);
      expect(r.status).toBe(403);
      expect(r.json.error).toMatchObject({
        code: 'GOV_ERR_FORBIDDEN',
        details: { required: 'T2', runId: adminRun },
      });
    }
    expect((await report('r-nobody-0')).status).toBe(404);
    // Control: the same key on its own run is published (so the refusals above could have been accepted).
    expect((await report(opsRun)).status).toBe(202);
    await reports.next((e) => e.type === 'budget.report.v1');
    await rig.client.flush();
    expect(reports.seen.map((e) => (e as Envelope<'budget.report.v1'>).body.runId)).toEqual([opsRun]);
    reports.close();
  });
});

describe('admission through the gateway refuses what climbs above the key, with no run left behind', () => {
  it.each([
    [
      'a pipeline stage naming a template with a T2 stage',
      `name: via-template\nversion: 1\ntemplates:\n  admin:\n    stages:\n      - id: x\n        agent: { tier: T2 }\n        task: { kind: noop }\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: pipeline, name: admin }\n`,
      403,
      'GOV_ERR_FORBIDDEN',
    ],
    [
      'token policies [root]',
      pipeline('root-token', 'T1', 'token: { policies: [root] }\n'),
      403,
      'GOV_ERR_POLICY_VIOLATION',
    ],
    [
      'a T2 token policy',
      pipeline('t2-token', 'T1', 'token: { policies: [agov-tier-t2] }\n'),
      403,
      'GOV_ERR_FORBIDDEN',
    ],
    [
      'a diagnostic naming an absolute path',
      pipeline(
        'abs-diag',
        'T1',
        'errorBudget: { maxErrors: 3, windowMs: 60000, diagnostic: /work/data/api-keys }\n',
      ),
      403,
      'GOV_ERR_POLICY_VIOLATION',
    ],
    [
      'a child pipeline by absolute file',
      `name: abs-file\nversion: 1\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: pipeline, file: /etc/hostname }\n`,
      403,
      'GOV_ERR_POLICY_VIOLATION',
    ],
  ])('refuses %s', async (_what, yaml, status, code) => {
    const before = await runIds();
    const r = await call('POST', '/api/pipelines', 'ops', { yaml });
    expect({ status: r.status, code: r.json.error?.code }).toEqual({ status, code });
    expect(await runIds()).toEqual(before);
  });

  it("the orchestrator's own run.request.v1 handler repeats the check with the caller's tier", async () => {
    const before = await runIds();
    const yaml = `name: direct\nversion: 1\ntemplates:\n  admin:\n    stages:\n      - id: x\n        agent: { tier: T2 }\n        task: { kind: noop }\nstages:\n  - id: s\n    agent: { tier: T1 }\n    task: { kind: pipeline, name: admin }\n`;
    await expect(
      rig.client.ask(serviceSubject('orchestrator'), {
        type: 'run.request.v1',
        body: { yaml, params: {}, requestedBy: 'api:ops', callerTier: 'T1' },
      }),
    ).rejects.toMatchObject({ code: 'GOV_ERR_TIER_FORBIDDEN', details: { stageId: 's/x' } });
    expect(await runIds()).toEqual(before);
  });

  it('regression: a YAML alias bomb answered 500 GOV_ERR_INTERNAL; it is a typed 400 with a yaml-limit diagnostic', async () => {
    const before = await runIds();
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      bomb += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    const r = await call('POST', '/api/pipelines', 'ops', { yaml: `${pipeline('bomb', 'T1')}${bomb}` });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('GOV_ERR_PIPELINE_INVALID');
    expect(r.json.error.details.diagnostics[0]).toMatchObject({ code: 'yaml-limit' });
    expect(await runIds()).toEqual(before);
  });

  it('answers an oversized document with a typed 400 naming the field', async () => {
    const yaml = `${pipeline('big', 'T1')}# ${'x'.repeat(DEFAULT_MAX_PIPELINE_BYTES)}\n`;
    const r = await call('POST', '/api/pipelines', 'ops', { yaml });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'GOV_ERR_INVALID_MESSAGE', details: { field: 'body.yaml' } });
  });
});
