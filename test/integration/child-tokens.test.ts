/**
 * Credentials hold by construction (issue 14 item 3) on a whole system: every accepted attempt gets
 * its own child token before its task starts, and no token is issued for a run that has ended.
 * Sandboxed exec tasks start only with their attempt's token (else GOV_ERR_CREDENTIALS_MISSING), and
 * each one checks it holds a token, so "the task started with its token" is observed from inside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { isTerminalRunEvent } from '../../protocols/vocabulary/run-status.ts';
import { allObs, serviceSubject } from '../../protocols/subjects.ts';
import { parseTeams, type RunningSystem } from '../../system/index.ts';
import { collect, TestServers, waitFor } from '../harness/index.ts';

const TEAMS = `
teams:
  - id: tok
    members:
      - { id: tok-1, tier: T1, role: worker }
      - { id: tok-2, tier: T1, role: worker }
`;

/** Exit 3 with a token in the task's environment, 9 without one: every attempt fails, and says which. */
const SCRIPT = '[ -n "$VAULT_TOKEN" ] || exit 9; exit 3';
const RETRIED = `name: tokened
version: 1
stages:
  - id: a
    agent: { tier: T1 }
    task: { kind: exec, command: [sh, -c, ${JSON.stringify(SCRIPT)}] }
    retries: { max: 2, backoffMs: 1, factor: 1 }
errorBudget: { maxErrors: 100, windowMs: 600000 }
`;
const QUICK = `name: tokened-ok
version: 1
stages:
  - { id: a, agent: { tier: T1 }, task: { kind: exec, command: ["true"] } }
  - { id: b, needs: [a], agent: { tier: T1 }, task: { kind: exec, command: ["true"] } }
`;

const servers = new TestServers();
let sys: RunningSystem;
let feed: ReturnType<typeof collect>;

beforeAll(async () => {
  sys = await servers.system({ teams: parseTeams(TEAMS, 'child-token-teams') });
  feed = collect(sys.client, allObs());
  await feed.ready();
  for (const id of ['tok-1', 'tok-2'])
    await waitFor(
      `${id} idle`,
      async () => {
        const r = await sys.client.ask(`gov.actor.agent.${id}`, { type: 'agent.status.v1', body: {} });
        return (r.body as { state: string }).state === 'idle';
      },
      90_000,
    );
}, 180_000);
afterAll(() => servers.stopAll());

type RunEvent = BodyOf<'run.event.v1'>;
type TokenEvent = BodyOf<'token.event.v1'>;
const runEvents = (runId: string) =>
  feed.seen.filter((e) => e.type === 'run.event.v1' && e.body.runId === runId).map((e) => e.body as RunEvent);
const tokenEvents = (runId: string) =>
  feed.seen
    .filter((e): e is Envelope<'token.event.v1'> => e.type === 'token.event.v1' && e.body.runId === runId)
    .map((e) => e.body as TokenEvent);

describe('child tokens on a whole system', () => {
  it('gives every accepted attempt its own child token before its task starts, and issues none once the run has ended and its token is revoked', async () => {
    const submit = async (yaml: string) => {
      const r = await sys.client.ask(serviceSubject('orchestrator'), {
        type: 'run.request.v1',
        body: { yaml },
      });
      return (r.body as { runId: string }).runId;
    };
    const runIds = await Promise.all([
      ...Array.from({ length: 3 }, () => submit(RETRIED)),
      ...Array.from({ length: 3 }, () => submit(QUICK)),
    ]);
    for (const runId of runIds) {
      await waitFor(
        `${runId} ended and its token revoked`,
        () =>
          runEvents(runId).some((e) => isTerminalRunEvent(e.event)) &&
          tokenEvents(runId).some((e) => e.action === 'revoked'),
        120_000,
      );
    }
    for (const runId of runIds) {
      const events = runEvents(runId);
      const tokens = tokenEvents(runId);
      const where = `${runId}: ${events.map((e) => `${e.event}${e.attempt ? `#${e.attempt}` : ''}`).join(' ')} | ${tokens.map((t) => t.action).join(' ')}`;
      const accepted = events.filter((e) => e.event === 'stage-accepted');
      const children = tokens.filter((t) => t.action === 'child-issued');
      // One child token per accepted attempt, to the agent that accepted it.
      expect(accepted.length, where).toBeGreaterThan(0);
      expect(children.map((c) => c.agentId).sort(), where).toEqual(accepted.map((a) => a.agentId).sort());
      // Each task started with its token: no attempt failed for want of credentials, and every
      // failed attempt is the script's own exit 3 (it found VAULT_TOKEN set), never its exit 9.
      for (const e of events.filter((x) => x.event === 'stage-retrying' || x.event === 'stage-failed')) {
        expect(e.error?.code, where).not.toBe('GOV_ERR_CREDENTIALS_MISSING');
        expect(e.error?.message, where).toMatch(/\b3\b/);
        expect(e.error?.message, where).not.toMatch(/\b9\b/);
      }
      // Nothing is issued for the run after its token was revoked at its end (same publisher: ordered).
      const revokedAt = tokens.findIndex((t) => t.action === 'revoked');
      expect(
        tokens.slice(revokedAt + 1).filter((t) => t.action === 'issued' || t.action === 'child-issued'),
        where,
      ).toEqual([]);
    }
    // The retried pipeline really made three attempts per run (three tokens each).
    expect(tokenEvents(runIds[0]!).filter((t) => t.action === 'child-issued')).toHaveLength(3);
  }, 240_000);
});
