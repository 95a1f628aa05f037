import type { NatsConnection } from '@nats-io/transport-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKind } from '../../actors/agent/agent.ts';
import { unwrapSecret, wrapSecret } from '../../actors/token/vault-wrapping.ts';
import { startVaultDevServer } from '../../infra/vault/dev-server.ts';
import { type ActorHandle, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import { AUDIT_STREAM, ensureStreams } from '../../bus/streams.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { RedisServer } from '../../infra/redis-server.ts';
import type { BodyIn } from '../../protocols/catalog.ts';
import {
  AgentBusyError,
  AgentUnavailableError,
  actorInbox,
  allDeadLetters,
  auditSubject,
  decodeRaw,
  heartbeatSubject,
  type Envelope,
  InvalidMessageError,
  InvalidTransitionError,
  obsSubject,
  PolicyViolationError,
  agentResultsSubject,
  serviceSubject,
  TierForbiddenError,
} from '../../protocols/index.ts';
import { spawnProcessChild } from '../../supervisors/process-child.ts';
import { VaultTokenClient } from '../../actors/token/vault-client.ts';
import { collect, credsFor, rawConnect, TestServers, testBus, waitFor } from '../harness/index.ts';

const servers = new TestServers();
let nats: NatsServer;
/** A bare connection, for sending what no Bus would (garbage bytes, a request without an envelope). */
let raw: NatsConnection;
let redis: RedisServer;
let client: Bus;
let jsm: JetStreamManager;
let workRoot: string;
const handles: ActorHandle[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([servers.nats(), servers.redis()]);
  raw = await rawConnect(nats);
  servers.onStop(() => raw.close());
  client = await testBus(nats.url);
  jsm = await ensureStreams(client);
  workRoot = servers.tempDir('agov-agent-work-');
  servers.onStop(() => client.close());
  servers.onStop(async () => {
    for (const h of handles) await h.stop('test over').catch(() => undefined);
  });
});
afterAll(() => servers.stopAll());

type Task = BodyIn<'agent.task.assign.v1'>['task'];

async function startAgent(id: string, args: Record<string, unknown> = {}): Promise<ActorHandle> {
  const h = await runActor(agentKind, {
    id,
    // No token authority here: tests that are about credentials turn the wait back on.
    args: {
      tier: 'T1',
      redisUrl: redis.url,
      workDir: join(workRoot, id),
      requireCredentials: false,
      ...args,
    },
    bus: { servers: nats.url },
    heartbeatMs: 200,
  });
  handles.push(h);
  return h;
}

let seq = 0;
/** An orchestrator-like reply subject with a collector on it. */
async function orchestrator() {
  const replyTo = serviceSubject(`test-orch-${++seq}`);
  const seen = collect(client, replyTo);
  await seen.ready();
  return { replyTo, seen };
}

function assign(
  agentId: string,
  task: Task,
  replyTo: string,
  extra: Partial<BodyIn<'agent.task.assign.v1'>> = {},
) {
  const taskId = extra.taskId ?? `task-${++seq}`;
  return {
    taskId,
    reply: client.ask(actorInbox('agent', agentId), {
      type: 'agent.task.assign.v1',
      body: {
        taskId,
        runId: 'run-1',
        stageId: 'stage-a',
        attempt: 1,
        task,
        requiredTier: 'T0',
        timeoutMs: 10_000,
        replyTo,
        env: {},
        ...extra,
      },
    }),
  };
}

function resultOf(seen: ReturnType<typeof collect>, taskId: string) {
  return seen.next((e) => e.type === 'agent.task.result.v1' && e.body.taskId === taskId) as Promise<
    Envelope<'agent.task.result.v1'>
  >;
}

async function status(agentId: string) {
  const r = await client.ask(actorInbox('agent', agentId), { type: 'agent.status.v1', body: {} });
  if (r.type !== 'agent.state.v1') throw new Error(`unexpected ${r.type}`);
  return r.body;
}

function command(agentId: string, body: BodyIn<'agent.command.v1'>) {
  return client.ask(actorInbox('agent', agentId), { type: 'agent.command.v1', body });
}

/** Every envelope in the AUDIT stream on the agents' subjects (gov.audit.agent.<id>), in order. */
async function auditTrail(): Promise<Envelope[]> {
  const info = await jsm.streams.info(AUDIT_STREAM);
  const out: Envelope[] = [];
  for (let s = info.state.first_seq; s <= info.state.last_seq && info.state.messages > 0; s++) {
    const m = await jsm.streams.getMessage(AUDIT_STREAM, { seq: s });
    if (m?.subject.startsWith(`${auditSubject('agent')}.`)) out.push(decodeRaw(m.data) as Envelope);
  }
  return out;
}

const node = process.execPath;

describe('agent actor over real nats-server and redis-server', () => {
  it('boots through preflight to idle, announces itself and reports its state in heartbeats', async () => {
    const feed = collect(client, obsSubject('agent', 'boot-1'));
    const hb = collect(client, heartbeatSubject('agent', 'boot-1'));
    await feed.ready();
    await startAgent('boot-1', { team: 'red', role: 'builder', tier: 'T0' });
    await feed.next(
      (e) => e.type === 'agent.transition.v1' && e.body.from === 'bootstrapping' && e.body.to === 'idle',
    );
    expect(await status('boot-1')).toMatchObject({
      agentId: 'boot-1',
      state: 'idle',
      tier: 'T0',
      team: 'red',
      role: 'builder',
      restarts: 0,
    });
    const beat = await hb.next(
      (e) => e.type === 'actor.heartbeat.v1' && (e.body.status as { state?: string })?.state === 'idle',
    );
    expect(beat.type === 'actor.heartbeat.v1' && beat.body.status).toMatchObject({
      agentId: 'boot-1',
      tier: 'T0',
      team: 'red',
    });
    feed.close();
    hb.close();
  });

  it('a T0 agent given an exec task refuses it with TierForbiddenError, and the violation appears on the feed and in the audit stream', async () => {
    await startAgent('t0-1', { tier: 'T0' });
    const violations = collect(client, obsSubject('violation', 't0-1'));
    await violations.ready();
    const { replyTo, seen } = await orchestrator();
    const { taskId, reply } = assign(
      't0-1',
      { kind: 'exec', command: [node, '-e', '1'], env: {}, timeoutMs: 1000, maxOutputBytes: 100 },
      replyTo,
    );
    const err = await reply.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TierForbiddenError);
    expect((err as TierForbiddenError).details).toMatchObject({
      tier: 'T0',
      taskKind: 'exec',
      requiredTier: 'T1',
    });
    const v = await violations.next();
    expect(v.type === 'agent.violation.v1' && v.body).toMatchObject({
      agentId: 't0-1',
      kind: 'task-tier',
      tier: 'T0',
      taskId,
      taskKind: 'exec',
      requiredTier: 'T1',
      runId: 'run-1',
      stageId: 'stage-a',
    });
    // The refusal is final for that task: no result, and the agent stays idle.
    expect((await status('t0-1')).state).toBe('idle');
    expect(seen.seen).toEqual([]);
    // The stream stores it asynchronously to the refusal: wait for it to show up.
    await waitFor('violation in the audit stream', async () =>
      (await auditTrail()).some((e) => e.id === v.id && e.type === 'agent.violation.v1'),
    );
    violations.close();
  });

  it('refuses a task whose requiredTier is above the agent even when the kind is allowed', async () => {
    await startAgent('t1-req', { tier: 'T1' });
    const { replyTo } = await orchestrator();
    await expect(
      assign('t1-req', { kind: 'noop' }, replyTo, { requiredTier: 'T2' }).reply,
    ).rejects.toBeInstanceOf(TierForbiddenError);
  });

  it('accepts a task at once, then sends progress and exactly one result to replyTo', async () => {
    await startAgent('noop-1');
    const { replyTo, seen } = await orchestrator();
    const first = assign('noop-1', { kind: 'noop' }, replyTo);
    const accepted = await first.reply;
    expect(accepted.type === 'agent.task.accepted.v1' && accepted.body).toEqual({
      taskId: first.taskId,
      runId: 'run-1',
      stageId: 'stage-a',
      attempt: 1,
      agentId: 'noop-1',
    });
    const result = await resultOf(seen, first.taskId);
    expect(result.body).toMatchObject({ status: 'succeeded', agentId: 'noop-1' });
    expect(result.corr).toBe(accepted.corr);
    const progress = seen.seen.filter(
      (e) => e.type === 'agent.task.progress.v1' && e.body.taskId === first.taskId,
    );
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(seen.seen.indexOf(progress[0]!)).toBeLessThan(seen.seen.indexOf(result));
    // A second task's result arriving proves nothing more came for the first.
    const second = assign('noop-1', { kind: 'noop' }, replyTo);
    await second.reply;
    await resultOf(seen, second.taskId);
    expect(
      seen.seen.filter((e) => e.type === 'agent.task.result.v1' && e.body.taskId === first.taskId),
    ).toHaveLength(1);
    expect((await status('noop-1')).state).toBe('idle');
  });

  it('a fail task reports a failed result with its message and code', async () => {
    await startAgent('fail-1');
    const { replyTo, seen } = await orchestrator();
    const a = assign('fail-1', { kind: 'fail', message: 'drill', code: 'DRILL_42' }, replyTo);
    await a.reply;
    const r = await resultOf(seen, a.taskId);
    expect(r.body).toMatchObject({
      status: 'failed',
      error: { code: 'DRILL_42', message: 'drill', retryable: false },
    });
    expect((await status('fail-1')).state).toBe('idle');
  });

  it('cancels a running sleep task: the result is cancelled and the agent is idle again', async () => {
    await startAgent('sleep-1');
    const { replyTo, seen } = await orchestrator();
    const a = assign('sleep-1', { kind: 'sleep', ms: 60_000 }, replyTo);
    await a.reply;
    expect(await status('sleep-1')).toMatchObject({
      state: 'working',
      currentTask: { taskId: a.taskId, runId: 'run-1' },
    });
    const ack = await client.ask(actorInbox('agent', 'sleep-1'), {
      type: 'agent.task.cancel.v1',
      body: { taskId: a.taskId, runId: 'run-1', stageId: 'stage-a', attempt: 1, reason: 'run cancelled' },
    });
    expect(ack.type === 'ack.v1' && ack.body.info).toMatchObject({ cancelled: true });
    const r = await resultOf(seen, a.taskId);
    expect(r.body).toMatchObject({ status: 'cancelled', error: { code: 'GOV_ERR_TASK_CANCELLED' } });
    expect(r.body.durationMs).toBeLessThan(10_000);
    expect((await status('sleep-1')).state).toBe('idle');
  });

  it("enforces the assignment's timeout: an overlong task fails with GOV_ERR_TIMEOUT", async () => {
    await startAgent('timeout-1');
    const { replyTo, seen } = await orchestrator();
    const a = assign('timeout-1', { kind: 'sleep', ms: 60_000 }, replyTo, { timeoutMs: 200 });
    await a.reply;
    const r = await resultOf(seen, a.taskId);
    expect(r.body).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TIMEOUT' } });
  });

  it('a busy agent refuses another task with a retryable error and keeps answering status', async () => {
    await startAgent('busy-1');
    const { replyTo, seen } = await orchestrator();
    const a = assign('busy-1', { kind: 'sleep', ms: 60_000 }, replyTo);
    await a.reply;
    const err = await assign('busy-1', { kind: 'noop' }, replyTo).reply.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentBusyError);
    expect((err as AgentBusyError).retryable).toBe(true);
    expect((await status('busy-1')).state).toBe('working');
    await client.ask(actorInbox('agent', 'busy-1'), {
      type: 'agent.task.cancel.v1',
      body: { taskId: a.taskId, runId: 'run-1', stageId: 'stage-a', attempt: 1, reason: 'done' },
    });
    await resultOf(seen, a.taskId);
  });

  describe('exec sandbox (T1)', () => {
    const probe = `process.stdout.write(JSON.stringify({ cwd: process.cwd(), env: process.env }))`;

    it('passes only allowlisted variables and the assignment env, in a fresh sandboxed working directory per task', async () => {
      process.env.TEST_PASSED = 'visible';
      process.env.TEST_SECRET = 'must-not-leak';
      await startAgent('exec-1');
      const { replyTo, seen } = await orchestrator();
      const task: Task = {
        kind: 'exec',
        command: [
          node,
          '-e',
          `const fs = require('fs'); const before = fs.readdirSync('.'); fs.writeFileSync('mine', 'x'); ${probe.replace('cwd: process.cwd()', 'cwd: process.cwd(), before')}`,
        ],
        env: { pass: ['TEST_PASSED', 'TEST_UNSET'], set: { MODE: 'ci' } },
        timeoutMs: 10_000,
        maxOutputBytes: 100_000,
        network: false,
      };
      const runs = [];
      for (const pid of ['run-7', 'run-8']) {
        const a = assign('exec-1', task, replyTo, { env: { PIPELINE_ID: pid } });
        await a.reply;
        const r = await resultOf(seen, a.taskId);
        expect(r.body.status).toBe('succeeded');
        const out = r.body.output as { exitCode: number; stdout: string; truncated: boolean };
        expect(out).toMatchObject({ exitCode: 0, truncated: false });
        runs.push(JSON.parse(out.stdout) as { cwd: string; before: string[]; env: Record<string, string> });
      }
      // bwrap sets PWD and the agent the task's report file (agov report); nothing else of the agent's
      // environment gets in.
      expect(runs[0]!.env).toEqual({
        TEST_PASSED: 'visible',
        MODE: 'ci',
        PIPELINE_ID: 'run-7',
        AGOV_REPORT_FILE: '/work/.agov-reports.jsonl',
        PWD: '/work',
      });
      expect(runs[0]!.env.TEST_SECRET).toBeUndefined();
      expect(runs[1]!.env.PIPELINE_ID).toBe('run-8');
      // Each task starts in an empty /work of its own: the first task's file is not in the second's.
      for (const r of runs) expect(r).toMatchObject({ cwd: '/work', before: [] });
    });

    it("gives a task its own stage attempt's child token, never the system token nor another stage's", async () => {
      process.env.VAULT_TOKEN = 'root-token-must-not-leak';
      try {
        await startAgent('exec-cred', { requireCredentials: true, credentialsWaitMs: 1_500 });
        const { replyTo, seen } = await orchestrator();
        const give = (stageId: string, attempt: number, token: string) =>
          client.ask(actorInbox('agent', 'exec-cred'), {
            type: 'agent.credentials.v1',
            body: {
              runId: 'run-cred',
              stageId,
              attempt,
              token,
              accessor: `acc-${stageId}-${attempt}`,
              expiresAt: Date.now() + 60_000,
            },
          });
        const ack = await give('stage-a', 1, 'child-token-stage-a-1');
        expect(ack.type === 'ack.v1' && JSON.stringify(ack.body)).not.toContain('child-token-stage-a-1');
        await give('stage-b', 1, 'child-token-stage-b-1');
        const task: Task = {
          kind: 'exec',
          // Printed reversed: the agent redacts the token itself from every output.
          command: [
            node,
            '-e',
            "process.stdout.write(JSON.stringify({ env: { VAULT_TOKEN: [...(process.env.VAULT_TOKEN ?? '')].reverse().join('') } }))",
          ],
          env: { pass: [], set: {} },
          timeoutMs: 10_000,
          maxOutputBytes: 100_000,
          network: false,
        };
        const envOf = (r: Envelope<'agent.task.result.v1'>) =>
          (JSON.parse((r.body.output as { stdout: string }).stdout) as { env: Record<string, string> }).env;
        const rev = (t: string) => [...t].reverse().join('');
        const a = assign('exec-cred', task, replyTo, { runId: 'run-cred', stageId: 'stage-a', attempt: 1 });
        await a.reply;
        const r1 = await resultOf(seen, a.taskId);
        expect(r1.body.status).toBe('succeeded');
        expect(envOf(r1).VAULT_TOKEN).toBe(rev('child-token-stage-a-1'));
        const b = assign('exec-cred', task, replyTo, { runId: 'run-cred', stageId: 'stage-b', attempt: 1 });
        await b.reply;
        expect(envOf(await resultOf(seen, b.taskId)).VAULT_TOKEN).toBe(rev('child-token-stage-b-1'));

        // The token arrives after the task was accepted: the task waits for it, then starts with it.
        const late = assign('exec-cred', task, replyTo, {
          runId: 'run-cred',
          stageId: 'stage-c',
          attempt: 2,
        });
        await late.reply;
        await give('stage-c', 1, 'child-token-stage-c-1');
        await give('stage-c', 2, 'child-token-stage-c-2');
        expect(envOf(await resultOf(seen, late.taskId)).VAULT_TOKEN).toBe(rev('child-token-stage-c-2'));

        // No token for this attempt (only another run's): not started, a typed, retryable failure.
        const none = assign('exec-cred', task, replyTo, {
          runId: 'run-other',
          stageId: 'stage-a',
          attempt: 1,
        });
        await none.reply;
        const r3 = await resultOf(seen, none.taskId);
        expect(r3.body).toMatchObject({
          status: 'failed',
          error: { code: 'GOV_ERR_CREDENTIALS_MISSING', retryable: true },
        });
        expect(r3.body.output).toBeUndefined();
      } finally {
        delete process.env.VAULT_TOKEN;
      }
    });

    it("revokes a finished attempt's child token in Vault (exit and timeout alike), and no other attempt's", async () => {
      const vaultServer = await startVaultDevServer();
      servers.onStop(() => vaultServer.stop());
      const vault = new VaultTokenClient({ addr: vaultServer.addr, token: vaultServer.rootToken });
      await startAgent('exec-revoke', {
        requireCredentials: true,
        credentialsWaitMs: 5_000,
        vaultAddr: vaultServer.addr,
      });
      const { replyTo, seen } = await orchestrator();
      const issue = async (stageId: string, attempt: number) => {
        const t = await vault.createToken({ policies: ['default'], ttl: '10m' });
        // As the token authority sends it: response-wrapped, unwrapped by the agent.
        const { wrappingToken } = await wrapSecret(
          vaultServer.addr,
          vaultServer.rootToken,
          { token: t.token, accessor: t.accessor },
          60,
        );
        await client.ask(actorInbox('agent', 'exec-revoke'), {
          type: 'agent.credentials.v2',
          body: {
            runId: 'run-revoke',
            stageId,
            attempt,
            wrappingToken,
            wrapTtlS: 60,
            accessor: t.accessor,
            expiresAt: Date.now() + 600_000,
          },
        });
        return t;
      };
      const live = async (token: string) =>
        vault.lookupSelf(token).then(
          () => true,
          () => false,
        );
      const exec = (ms: number): Task => ({
        kind: 'exec',
        command: [node, '-e', `setTimeout(() => {}, ${ms})`],
        env: { pass: [], set: {} },
        timeoutMs: 10_000,
        maxOutputBytes: 1_000,
        network: false,
      });
      const done = await issue('stage-done', 1);
      const other = await issue('stage-other', 1);
      expect(await live(done.token)).toBe(true);
      const a = assign('exec-revoke', exec(10), replyTo, {
        runId: 'run-revoke',
        stageId: 'stage-done',
        attempt: 1,
      });
      await a.reply;
      expect((await resultOf(seen, a.taskId)).body.status).toBe('succeeded');
      await waitFor('the finished attempt token revoked', async () => !(await live(done.token)));

      const slow = await issue('stage-slow', 1);
      const t = assign('exec-revoke', exec(60_000), replyTo, {
        runId: 'run-revoke',
        stageId: 'stage-slow',
        attempt: 1,
        timeoutMs: 500,
      });
      await t.reply;
      expect((await resultOf(seen, t.taskId)).body).toMatchObject({
        status: 'failed',
        error: { code: 'GOV_ERR_TIMEOUT' },
      });
      await waitFor('the timed-out attempt token revoked', async () => !(await live(slow.token)));
      // Control: the token of an attempt that has not run is still valid (the checks above can fail).
      expect(await live(other.token)).toBe(true);
    });

    it('unwraps its response-wrapped child token once and gives it to the task; an intercepted one is refused on the dead-letter feed', async () => {
      const vault = await startVaultDevServer();
      servers.onStop(() => vault.stop());
      const wrap = async (token: string, accessor: string) =>
        (await wrapSecret(vault.addr, vault.rootToken, { token, accessor }, 60)).wrappingToken;
      await startAgent('exec-wrapped', {
        requireCredentials: true,
        credentialsWaitMs: 1_500,
        vaultAddr: vault.addr,
      });
      const { replyTo, seen } = await orchestrator();
      const dlq = collect(client, allDeadLetters());
      await dlq.ready();
      const give = (wrappingToken: string, accessor: string, stageId: string) =>
        client.tell(actorInbox('agent', 'exec-wrapped'), {
          type: 'agent.credentials.v2',
          body: {
            runId: 'run-w',
            stageId,
            attempt: 1,
            wrappingToken,
            wrapTtlS: 60,
            accessor,
            expiresAt: Date.now() + 60_000,
          },
        });
      const task: Task = {
        kind: 'exec',
        command: [
          node,
          '-e',
          "process.stdout.write(JSON.stringify({ rev: [...(process.env.VAULT_TOKEN ?? '')].reverse().join('') }))",
        ],
        env: { pass: [], set: {} },
        timeoutMs: 10_000,
        maxOutputBytes: 100_000,
        network: false,
      };
      const revOf = (r: Envelope<'agent.task.result.v1'>) =>
        (JSON.parse((r.body.output as { stdout: string }).stdout) as { rev: string }).rev;
      const rev = (t: string) => [...t].reverse().join('');

      const w1 = await wrap('hvs.child-token-wrapped-a', 'acc-wrapped-a');
      give(w1, 'acc-wrapped-a', 'stage-a');
      const a = assign('exec-wrapped', task, replyTo, { runId: 'run-w', stageId: 'stage-a', attempt: 1 });
      await a.reply;
      expect(revOf(await resultOf(seen, a.taskId))).toBe(rev('hvs.child-token-wrapped-a'));
      // The agent used the wrapping token: whoever else read the message cannot.
      await expect(unwrapSecret(vault.addr, w1)).rejects.toThrow(/400/);

      // Intercepted: an attacker unwrapped first. The agent refuses it, visibly, and its task never starts.
      const w2 = await wrap('hvs.child-token-wrapped-b', 'acc-wrapped-b');
      expect((await unwrapSecret(vault.addr, w2)).token).toBe('hvs.child-token-wrapped-b');
      give(w2, 'acc-wrapped-b', 'stage-b');
      const dl = await dlq.next(
        (e) => e.type === 'dead-letter.v1' && e.body.reason.code === 'GOV_ERR_CREDENTIALS_INTERCEPTED',
      );
      expect(JSON.stringify(dl)).not.toContain(w2);
      const b = assign('exec-wrapped', task, replyTo, { runId: 'run-w', stageId: 'stage-b', attempt: 1 });
      await b.reply;
      expect((await resultOf(seen, b.taskId)).body).toMatchObject({
        status: 'failed',
        error: { code: 'GOV_ERR_CREDENTIALS_MISSING' },
      });
      dlq.close();
    });

    it('refuses an assignment whose env.pass names a system variable (VAULT_TOKEN, NATS_*, REDIS_*, AGOV_*) at the message boundary', async () => {
      await startAgent('exec-deny');
      const { replyTo } = await orchestrator();
      for (const name of [
        'VAULT_TOKEN',
        'VAULT_ADDR',
        'NATS_URL',
        'REDIS_URL',
        'AGOV_DATA_DIR',
        'AGOV_API_KEYS_FILE',
      ]) {
        const a = assign(
          'exec-deny',
          {
            kind: 'exec',
            command: ['true'],
            env: { pass: [name], set: {} },
            timeoutMs: 5_000,
            maxOutputBytes: 100,
            network: false,
          },
          replyTo,
        );
        await expect(a.reply).rejects.toMatchObject({ code: 'GOV_ERR_INVALID_MESSAGE' });
      }
    });

    it('redacts every secret the agent knows from the output before the result leaves it', async () => {
      process.env.VAULT_TOKEN = 'hvs.root-token-must-not-leak';
      try {
        await startAgent('exec-redact', { requireCredentials: true });
        const { replyTo, seen } = await orchestrator();
        await client.ask(actorInbox('agent', 'exec-redact'), {
          type: 'agent.credentials.v1',
          body: {
            runId: 'run-1',
            stageId: 'stage-a',
            attempt: 1,
            token: 'hvs.child-token-xyz',
            accessor: 'acc-xyz-123',
            expiresAt: Date.now() + 60_000,
          },
        });
        const a = assign(
          'exec-redact',
          {
            kind: 'exec',
            // The task prints its own token and a system secret it learned somehow (here: set by name).
            command: ['sh', '-c', 'echo "mine=$VAULT_TOKEN stolen=$STOLEN"; echo "$VAULT_TOKEN" >&2; exit 4'],
            env: { pass: [], set: { STOLEN: 'hvs.root-token-must-not-leak' } },
            timeoutMs: 5_000,
            maxOutputBytes: 1000,
            network: false,
          },
          replyTo,
        );
        await a.reply;
        const r = await resultOf(seen, a.taskId);
        const text = JSON.stringify(r.body);
        expect(text).not.toContain('hvs.child-token-xyz');
        expect(text).not.toContain('hvs.root-token-must-not-leak');
        expect(r.body.output).toMatchObject({
          stdout: 'mine=[REDACTED] stolen=[REDACTED]\n',
          stderr: '[REDACTED]\n',
        });
      } finally {
        delete process.env.VAULT_TOKEN;
      }
    });

    it('caps stdout+stderr at maxOutputBytes and flags the output truncated', async () => {
      await startAgent('exec-cap');
      const { replyTo, seen } = await orchestrator();
      const a = assign(
        'exec-cap',
        {
          kind: 'exec',
          command: [node, '-e', "process.stdout.write('x'.repeat(200000))"],
          env: {},
          timeoutMs: 10_000,
          maxOutputBytes: 1000,
          network: false,
        },
        replyTo,
      );
      await a.reply;
      const r = await resultOf(seen, a.taskId);
      expect(r.body.status).toBe('succeeded');
      const out = r.body.output as { stdout: string; stderr: string; truncated: boolean };
      expect(out.stdout.length + out.stderr.length).toBe(1000);
      expect(out.truncated).toBe(true);
    });

    it('kills the whole sandbox of a command that outlives its timeout, even one that ignores SIGTERM, and fails the task', async () => {
      await startAgent('exec-timeout');
      const { replyTo, seen } = await orchestrator();
      const polite = assign(
        'exec-timeout',
        {
          kind: 'exec',
          command: [node, '-e', 'setInterval(() => {}, 1000)'],
          env: {},
          timeoutMs: 300,
          maxOutputBytes: 1000,
          network: false,
        },
        replyTo,
      );
      await polite.reply;
      const r1 = await resultOf(seen, polite.taskId);
      expect(r1.body).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TIMEOUT' } });
      expect(r1.body.output).toMatchObject({ timedOut: true });
      // Ended by the kill: bwrap takes the SIGTERM itself, or, when it lands while bwrap is still setting
      // up (a loaded machine), bwrap reports its namespace's SIGKILLed child as 128 + 9.
      const o1 = r1.body.output as { exitCode: number | null; signal: string | null };
      expect(o1.signal === 'SIGTERM' || o1.exitCode === 137, JSON.stringify(o1)).toBe(true);

      const stubborn = assign(
        'exec-timeout',
        {
          kind: 'exec',
          // SIGTERM ignored from the shell's first statement (`exec sleep` keeps it ignored): no race
          // with node's start-up, which under load needed seconds to install a handler.
          command: ['/bin/sh', '-c', "trap '' TERM; echo armed; exec sleep 60"],
          env: {},
          timeoutMs: 1_500,
          maxOutputBytes: 1000,
          network: false,
        },
        replyTo,
      );
      await stubborn.reply;
      const r2 = await resultOf(seen, stubborn.taskId);
      expect(r2.body).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TIMEOUT' } });
      // The timeout SIGKILLs the sandbox's PID 1 and then SIGTERMs bwrap: bwrap either reports its
      // SIGKILLed namespace as 128 + 9 first or takes the SIGTERM (regression: CI saw 137 where only
      // signal SIGTERM was accepted). Either way the namespace dies, handler or not.
      expect(r2.body.output).toMatchObject({ timedOut: true });
      const o2 = r2.body.output as { exitCode: number | null; signal: string | null };
      expect(o2.signal === 'SIGTERM' || o2.exitCode === 137, JSON.stringify(o2)).toBe(true);
      expect((r2.body.output as { durationMs: number }).durationMs).toBeLessThan(1_500 + 2_000);
      expect(JSON.stringify(r2.body.output)).toContain('armed'); // premise: the SIGTERM-ignoring child ran
    });

    it('reports a non-zero exit as a failed task with the exit code and output', async () => {
      await startAgent('exec-exit');
      const { replyTo, seen } = await orchestrator();
      const a = assign(
        'exec-exit',
        {
          kind: 'exec',
          command: [node, '-e', "console.error('bad input'); process.exit(3)"],
          env: {},
          timeoutMs: 10_000,
          maxOutputBytes: 1000,
          network: false,
        },
        replyTo,
      );
      await a.reply;
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TASK_FAILED' } });
      expect(r.body.output).toMatchObject({ exitCode: 3, stderr: 'bad input\n' });
    });

    it('fails a command that cannot be started, without a shell to interpret it', async () => {
      await startAgent('exec-enoent');
      const { replyTo, seen } = await orchestrator();
      const a = assign(
        'exec-enoent',
        {
          kind: 'exec',
          command: ['echo hi; rm -rf /'],
          env: {},
          timeoutMs: 10_000,
          maxOutputBytes: 1000,
          network: false,
        },
        replyTo,
      );
      await a.reply;
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({ status: 'failed', error: { code: 'GOV_ERR_TASK_FAILED' } });
    });
  });

  describe('http tasks (T1)', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/ok') {
          let body = '';
          req.on('data', (c: Buffer) => {
            body += c.toString();
          });
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ method: req.method, body, type: req.headers['content-type'] }));
          });
          return;
        }
        res.writeHead(503);
        res.end('down');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      servers.onStop(() => new Promise<void>((r) => server.close(() => r())));
    });

    it('sends the request and succeeds on a 2xx, with the status and body in the output', async () => {
      await startAgent('http-1');
      const { replyTo, seen } = await orchestrator();
      const a = assign(
        'http-1',
        { kind: 'http', url: `${base}/ok`, method: 'POST', headers: {}, body: { hello: 'world' } },
        replyTo,
      );
      await a.reply;
      const r = await resultOf(seen, a.taskId);
      expect(r.body.status).toBe('succeeded');
      const out = r.body.output as { status: number; body: string };
      expect(out.status).toBe(200);
      expect(JSON.parse(out.body)).toEqual({
        method: 'POST',
        body: '{"hello":"world"}',
        type: 'application/json',
      });
    });

    it('fails on a status other than expectStatus', async () => {
      await startAgent('http-2');
      const { replyTo, seen } = await orchestrator();
      const a = assign(
        'http-2',
        { kind: 'http', url: `${base}/down`, method: 'GET', headers: {}, expectStatus: 200 },
        replyTo,
      );
      await a.reply;
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({
        status: 'failed',
        error: { code: 'GOV_ERR_TASK_FAILED' },
        output: { status: 503, body: 'down' },
      });
    });
  });

  describe('commands', () => {
    it('applies a command with the authority of the credentials that may reach its inbox, never the byTier its body claims, and audits it so', async () => {
      // Only system credentials may publish on an agent's inbox (the broker: test/integration/attacker.test.ts);
      // operators below T2 are refused by the control actor, from their control subject, before this.
      await startAgent('promo-1', { tier: 'T0' });
      const ok = await command('promo-1', {
        command: 'promote',
        byTier: 'T0',
        by: 'ops-bot',
        reason: 'trusted',
      });
      expect(ok.type === 'agent.state.v1' && ok.body).toMatchObject({ tier: 'T1', state: 'idle' });
      const bare = await command('promo-1', { command: 'promote', by: 'alice' } as never);
      expect(bare.type === 'agent.state.v1' && bare.body).toMatchObject({ tier: 'T2', state: 'idle' });

      const audit = (await auditTrail()).filter(
        (e) => e.type === 'agent.command.outcome.v1' && e.body.agentId === 'promo-1',
      );
      expect(
        audit.map(
          (e) =>
            e.type === 'agent.command.outcome.v1' && [
              e.body.by,
              e.body.byTier,
              e.body.outcome,
              e.body.fromTier,
              e.body.toTier,
            ],
        ),
      ).toEqual([
        ['ops-bot', 'T2', 'applied', 'T0', 'T1'],
        ['alice', 'T2', 'applied', 'T1', 'T2'],
      ]);
      const transitions = (await auditTrail()).filter(
        (e) => e.type === 'agent.transition.v1' && e.body.agentId === 'promo-1' && e.body.event === 'PROMOTE',
      );
      expect(transitions).toHaveLength(2);
    });

    it('suspends (tasks refused, retryable), resumes, quarantines (violation) and releases', async () => {
      await startAgent('cmd-1');
      const { replyTo } = await orchestrator();
      await command('cmd-1', { command: 'suspend', byTier: 'T1', by: 'budget', reason: 'budget-exhausted' });
      const err = await assign('cmd-1', { kind: 'noop' }, replyTo).reply.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentUnavailableError);
      expect((err as AgentUnavailableError).retryable).toBe(true);
      await command('cmd-1', { command: 'resume', byTier: 'T1', by: 'ops' });
      expect((await status('cmd-1')).state).toBe('idle');

      const violations = collect(client, obsSubject('violation', 'cmd-1'));
      await violations.ready();
      await command('cmd-1', {
        command: 'quarantine',
        byTier: 'T1',
        by: 'policy',
        reason: 'exfiltration attempt',
      });
      const v = await violations.next();
      expect(v.type === 'agent.violation.v1' && v.body).toMatchObject({
        kind: 'policy',
        reason: 'exfiltration attempt',
      });
      await expect(command('cmd-1', { command: 'resume', byTier: 'T2', by: 'ops' })).rejects.toBeInstanceOf(
        InvalidTransitionError,
      );
      const released = await command('cmd-1', { command: 'release', byTier: 'T2', by: 'alice' });
      // Released agents go through preflight again before they take work.
      expect(released.type === 'agent.state.v1' && released.body.state).toBe('idle');
      violations.close();
    });

    it('suspending a working agent aborts its task with a cancelled result', async () => {
      await startAgent('cmd-2');
      const { replyTo, seen } = await orchestrator();
      const a = assign('cmd-2', { kind: 'sleep', ms: 60_000 }, replyTo);
      await a.reply;
      await command('cmd-2', {
        command: 'suspend',
        byTier: 'T2',
        by: 'vault',
        reason: 'credentials-revoked',
      });
      const r = await resultOf(seen, a.taskId);
      expect(r.body.status).toBe('cancelled');
      expect((await status('cmd-2')).state).toBe('suspended');
    });

    it('a terminated agent refuses tasks for good', async () => {
      await startAgent('cmd-3');
      const { replyTo } = await orchestrator();
      await command('cmd-3', { command: 'terminate', byTier: 'T2', by: 'alice' });
      const err = await assign('cmd-3', { kind: 'noop' }, replyTo).reply.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentUnavailableError);
      expect((err as AgentUnavailableError).retryable).toBe(false);
    });
  });

  describe('persistence', () => {
    it('a killed agent started again with the same id resumes its persisted state and tier, with restarts incremented', async () => {
      const first = await startAgent('persist-1', { tier: 'T0', team: 'blue' });
      await command('persist-1', { command: 'promote', byTier: 'T2', by: 'alice' });
      await command('persist-1', {
        command: 'suspend',
        byTier: 'T1',
        by: 'budget',
        reason: 'budget-exhausted',
      });
      await first.kill();

      const feed = collect(client, obsSubject('agent', 'persist-1'));
      await feed.ready();
      // Start args say T0: the persisted tier wins.
      await startAgent('persist-1', { tier: 'T0', team: 'blue' });
      expect(await status('persist-1')).toMatchObject({
        state: 'suspended',
        tier: 'T1',
        team: 'blue',
        restarts: 1,
      });
      const restored = await feed.next((e) => e.type === 'agent.transition.v1' && e.body.event === 'RESTORE');
      expect(restored.type === 'agent.transition.v1' && restored.body).toMatchObject({
        from: 'suspended',
        to: 'suspended',
        restarts: 1,
      });

      await command('persist-1', { command: 'resume', byTier: 'T1', by: 'ops' });
      const second = handles[handles.length - 1]!;
      await second.kill();
      await startAgent('persist-1', { tier: 'T0' });
      expect(await status('persist-1')).toMatchObject({ state: 'idle', tier: 'T1', restarts: 2 });
      feed.close();
    });

    it('an agent SIGKILLed mid-task reports the task it lost as GOV_ERR_ACTOR_CRASHED (retryable) when started again, and returns to idle', async () => {
      const credentials = await credsFor(nats, { role: 'agent', id: 'crash-1', tier: 'T1' });
      const spawn = () =>
        spawnProcessChild({
          kind: 'agent',
          id: 'crash-1',
          natsUrl: nats.url,
          credentials,
          args: { tier: 'T1', redisUrl: redis.url, workDir: join(workRoot, 'crash-1') },
          env: { AGOV_NO_BUNDLE: '1' },
          stderr: 'ignore',
        });
      const first = spawn();
      servers.onStop(() => first.stop(2_000).then(() => undefined));
      await waitFor(
        'agent process answering',
        () => status('crash-1').then((s) => s.state === 'idle'),
        60_000,
        100,
      );
      // An agent's own credential may publish results only on gov.results.*.<its id>, as the orchestrator asks.
      const replyTo = agentResultsSubject('test-crash', 'crash-1');
      const seen = collect(client, replyTo);
      await seen.ready();
      const a = assign('crash-1', { kind: 'sleep', ms: 60_000 }, replyTo);
      await a.reply;
      first.signal('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      // Killed, it said nothing: no stop routine ran.
      await client.flush();
      expect(seen.seen.filter((e) => e.type === 'agent.task.result.v1')).toHaveLength(0);
      const second = spawn();
      servers.onStop(() => second.stop(2_000).then(() => undefined));
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({
        status: 'failed',
        agentId: 'crash-1',
        error: { code: 'GOV_ERR_ACTOR_CRASHED', retryable: true },
      });
      await waitFor('the restarted agent idle', () =>
        status('crash-1').then((s) => s.state === 'idle' && s.restarts === 1),
      );
      expect(
        seen.seen.filter((e) => e.type === 'agent.task.result.v1' && e.body.taskId === a.taskId),
      ).toHaveLength(1);
      await second.stop(5_000);
    });

    it('an in-host agent killed mid-task says nothing (no stop routine runs), and started again reports the task it lost as GOV_ERR_ACTOR_CRASHED and returns to idle', async () => {
      const first = await startAgent('crash-in-host');
      const { replyTo, seen } = await orchestrator();
      const a = assign('crash-in-host', { kind: 'sleep', ms: 60_000 }, replyTo);
      await a.reply;
      await first.kill();
      // Killed, it said nothing: a graceful stop would have reported the task failed with
      // GOV_ERR_ACTOR_STOPPED at once.
      await client.flush();
      expect(seen.seen.filter((e) => e.type === 'agent.task.result.v1')).toHaveLength(0);
      await startAgent('crash-in-host');
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({
        status: 'failed',
        agentId: 'crash-in-host',
        error: { code: 'GOV_ERR_ACTOR_CRASHED', retryable: true },
      });
      expect(await status('crash-in-host')).toMatchObject({ state: 'idle', restarts: 1 });
      expect(
        seen.seen.filter((e) => e.type === 'agent.task.result.v1' && e.body.taskId === a.taskId),
      ).toHaveLength(1);
    });

    it('an agent stopped gracefully mid-task reports the task failed (GOV_ERR_ACTOR_STOPPED, retryable) at once, and starts again idle', async () => {
      const first = await startAgent('persist-2');
      const { replyTo, seen } = await orchestrator();
      const a = assign('persist-2', { kind: 'sleep', ms: 60_000 }, replyTo);
      await a.reply;
      // A graceful stop reports the task as failed at once.
      await first.stop('maintenance');
      const r = await resultOf(seen, a.taskId);
      expect(r.body).toMatchObject({
        status: 'failed',
        error: { code: 'GOV_ERR_ACTOR_STOPPED', retryable: true },
      });
      await startAgent('persist-2');
      expect(await status('persist-2')).toMatchObject({ state: 'idle', restarts: 1 });
      expect(
        seen.seen.filter((e) => e.type === 'agent.task.result.v1' && e.body.taskId === a.taskId),
      ).toHaveLength(1);
    });

    it('an invalid tier fails preflight and leaves the agent failed, refusing tasks', async () => {
      await startAgent('bad-tier', { tier: 'T9', maxRestarts: 0 });
      expect(await status('bad-tier')).toMatchObject({ state: 'failed', tier: 'T0' });
      const { replyTo } = await orchestrator();
      await expect(assign('bad-tier', { kind: 'noop' }, replyTo).reply).rejects.toBeInstanceOf(
        AgentUnavailableError,
      );
    });
  });

  it('dead-letters invalid messages and forged internal messages, and keeps serving', async () => {
    await startAgent('dlq-1');
    const inbox = actorInbox('agent', 'dlq-1');
    const dlq = collect(client, allDeadLetters());
    await dlq.ready();
    const invalid = new TextEncoder().encode(
      JSON.stringify({
        sv: 1,
        type: 'agent.task.assign.v1',
        id: 'x1',
        ts: 1,
        from: 'me',
        body: { taskId: 't', task: { kind: 'rm-rf' } },
      }),
    );
    const r = await raw.request(inbox, invalid, { timeout: 5000 });
    expect(() => client.readReply(r)).toThrow(InvalidMessageError);
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.subject === inbox &&
        e.body.reason.code === 'GOV_ERR_INVALID_MESSAGE',
    );

    await expect(
      client.ask(inbox, { type: 'agent.internal.v1', body: { event: 'retry-bootstrap', nonce: 'guess' } }),
    ).rejects.toBeInstanceOf(PolicyViolationError);
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' &&
        e.body.subject === inbox &&
        e.body.reason.code === 'GOV_ERR_POLICY_VIOLATION',
    );

    raw.publish(inbox, new Uint8Array([0xc1, 0x00]));
    await dlq.next(
      (e) =>
        e.type === 'dead-letter.v1' && e.body.subject === inbox && e.body.reason.code === 'GOV_ERR_DECODE',
    );
    expect((await status('dlq-1')).state).toBe('idle');
    dlq.close();
  });
});
