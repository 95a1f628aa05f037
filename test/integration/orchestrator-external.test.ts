import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintFor } from '../harness/index.ts';
import { OrchestratorRig } from './orchestrator-helpers.ts';

const rig = new OrchestratorRig();
/** A `${{ params.NAME }}` reference, written so it is not mistaken for a JS placeholder. */
const ref = (name: string) => `$\{{ params.${name} }}`;

beforeAll(async () => {
  await rig.start();
  await rig.orchestrator();
  for (const id of ['ext-1', 'ext-2']) await rig.agent(id);
});
afterAll(() => rig.stop());

describe('orchestrator for clients outside this codebase', () => {
  it('runs a request published as JSON by a plain nats.js client, which follows the events on the feed', async () => {
    // The operator hands the client a .creds file (as `agov creds` does); only nats.js below it.
    const { creds } = await mintFor(rig.nats, { role: 'client', name: 'ext' });
    const nc = await connect({
      servers: rig.nats.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      inboxPrefix: '_INBOX.client-ext',
    });
    const events: Array<{ event: string; stageId?: string }> = [];
    let runId = '';
    let resolveDone!: (e: string) => void;
    const done = new Promise<string>((r) => {
      resolveDone = r;
    });
    nc.subscribe('gov.obs.run.>', {
      callback: (_err, m) => {
        const env = JSON.parse(new TextDecoder().decode(m.data));
        if (env.body.runId !== runId) return;
        events.push({ event: env.body.event, stageId: env.body.stageId });
        if (['run-succeeded', 'run-failed', 'run-cancelled'].includes(env.body.event))
          resolveDone(env.body.event);
      },
    });
    const request = {
      sv: 1,
      type: 'run.request.v1',
      id: 'ext-req-1',
      ts: Date.now(),
      from: 'external-client',
      body: {
        yaml:
          'name: external\nversion: 1\nparameters:\n  ms: { type: number }\nstages:\n  - { id: one, task: { kind: noop } }\n  - { id: two, needs: [one], task: { kind: sleep, ms: "' +
          ref('ms') +
          '" } }\n',
        params: { ms: 20 },
      },
    };
    const reply = await nc.request('gov.svc.orchestrator', JSON.stringify(request), { timeout: 5000 });
    expect(reply.headers?.get('Gov-Error-Code') ?? '').toBe('');
    const accepted = JSON.parse(new TextDecoder().decode(reply.data));
    expect(accepted).toMatchObject({
      type: 'run.accepted.v1',
      cause: 'ext-req-1',
      body: { pipeline: 'external', stages: ['one', 'two'] },
    });
    runId = accepted.body.runId;
    expect(await done).toBe('run-succeeded');
    expect(events.filter((e) => e.event === 'stage-succeeded').map((e) => e.stageId)).toEqual(['one', 'two']);

    const bad = await nc.request(
      'gov.svc.orchestrator',
      JSON.stringify({ ...request, id: 'ext-req-2', body: { yaml: 'name: x\nversion: 1\nstages: []\n' } }),
      {
        timeout: 5000,
      },
    );
    expect(bad.headers?.get('Gov-Error-Code')).toBe('GOV_ERR_PIPELINE_INVALID');
    expect(JSON.parse(bad.headers?.get('Gov-Error-Details') ?? '{}').diagnostics[0]).toMatchObject({
      code: 'schema',
      line: 3,
    });
    await nc.close();
  });

  it('runs a pipeline stage as a child run whose events carry the parent run id', async () => {
    const dir = rig.servers.tempDir('agov-child-');
    writeFileSync(
      join(dir, 'child.yaml'),
      'name: child\nversion: 1\nparameters:\n  who: { type: string }\nstages:\n  - { id: inner, task: { kind: noop }, description: "hi ' +
        ref('who') +
        '" }\n',
    );
    const parentFile = join(dir, 'parent.yaml');
    const parentYaml = `
name: parent
version: 1
stages:
  - { id: before, task: { kind: noop } }
  - { id: nested, needs: [before], task: { kind: pipeline, file: child.yaml, params: { who: me } } }
  - { id: after, needs: [nested], task: { kind: noop } }
`;
    writeFileSync(parentFile, parentYaml);
    const runId = await rig.submit(parentYaml, {}, parentFile);
    expect((await rig.finished(runId)).event).toBe('run-succeeded');
    const childAccepted = rig.feed.seen.find(
      (e) => e.type === 'run.event.v1' && e.body.event === 'run-accepted' && e.body.parentRunId === runId,
    );
    expect(childAccepted).toBeDefined();
    const childRunId = (childAccepted!.body as { runId: string }).runId;
    const childEvents = rig.events(childRunId);
    expect(childEvents.length).toBeGreaterThan(0);
    expect(childEvents.every((e) => e.parentRunId === runId)).toBe(true);
    const inner = rig.agents.flatMap((a) => a.started).find((t) => t.runId === childRunId)!;
    expect(inner.env).toEqual({ PIPELINE_ID: childRunId, PARENT_PIPELINE_ID: runId });
    const child = await rig.state(childRunId);
    expect(child).toMatchObject({ status: 'succeeded', parentRunId: runId, pipeline: 'child' });
  });

  it('fails the parent stage when its child run fails', async () => {
    const runId = await rig.submit(`
name: parent-of-failure
version: 1
templates:
  broken:
    stages:
      - { id: boom, task: { kind: fail, message: child broke } }
stages:
  - { id: nested, task: { kind: pipeline, name: broken } }
`);
    const end = await rig.finished(runId);
    expect(end.event).toBe('run-failed');
    expect(end.error?.message).toContain('child broke');
  });
});
