import { describe, expect, it } from 'vitest';
import { REDACTED, REDACTED_KEY, auditEventFromEnvelope } from '../../actors/ledger/audit-event-mapping.ts';
import { encodeEvent } from '../../actors/ledger/index.ts';
import type { AnyEnvelope } from '../../protocols/envelope.ts';
import { InvalidMessageError } from '../../protocols/vocabulary/errors.ts';
import { auditSenderOf, auditSubject } from '../../protocols/subjects.ts';

const env = (body: unknown, over: Partial<AnyEnvelope> = {}): AnyEnvelope => ({
  sv: 1,
  type: 'agent.task.result.v1',
  id: 'env-1',
  ts: 1_700_000_000_000,
  from: 'gov.actor.agent.ag-1',
  body,
  ...over,
});

describe('envelope to audit event mapping', () => {
  it('takes id, ts, type and actor from the envelope and the body as data', () => {
    const e = auditEventFromEnvelope(env({ taskId: 't-1', status: 'ok' }, { run: 'r-1' }));
    expect(e).toEqual({
      id: 'env-1',
      ts: 1_700_000_000_000,
      type: 'agent.task.result.v1',
      actor: 'gov.actor.agent.ag-1',
      run: 'r-1',
      data: { taskId: 't-1', status: 'ok' },
    });
    expect(() => encodeEvent(e)).not.toThrow();
  });

  it('records the authenticated sender it is given (from the subject), never a sender claimed in the body', () => {
    const e = auditEventFromEnvelope(env({ sender: 'admin-root' }), { sender: 'agent-ag-1' });
    expect(e.sender).toBe('agent-ag-1');
    expect(e.data).toEqual({ sender: 'admin-root' });
    expect(encodeEvent(e).toString()).toContain('"sender":"agent-ag-1"');
    const unattributed = auditEventFromEnvelope(env({ sender: 'admin-root' }));
    expect('sender' in unattributed).toBe(false);
    expect(auditSenderOf(auditSubject('agent', 'agent-ag-1'))).toBe('agent-ag-1');
    expect(auditSenderOf(auditSubject('agent'))).toBeUndefined();
    expect(auditSenderOf('gov.obs.agent.x')).toBeUndefined();
  });

  it('takes the run from the body when the envelope has none, and the agent when the body names one', () => {
    expect(auditEventFromEnvelope(env({ runId: 'r-2', agentId: 'ag-7' }))).toMatchObject({
      run: 'r-2',
      agent: 'ag-7',
    });
    expect(auditEventFromEnvelope(env({ agent: 'ag-8' }))).toMatchObject({ agent: 'ag-8' });
    const none = auditEventFromEnvelope(env({ agentId: '', runId: 5 }));
    expect('run' in none || 'agent' in none).toBe(false);
    expect(auditEventFromEnvelope(env({ runId: 'body-run' }, { run: 'env-run' })).run).toBe('env-run');
  });

  it('regression: keeps settings under a key named "token" (run-accepted governance.token TTLs were dropped)', () => {
    const e = auditEventFromEnvelope(
      env({ governance: { token: { ttlMs: 7_200_000, maxTtlMs: 86_400_000, renewable: true } } }),
    );
    expect(e.data).toEqual({
      governance: { token: { ttlMs: 7_200_000, maxTtlMs: 86_400_000, renewable: true } },
    });
    expect(() => encodeEvent(e)).not.toThrow();
  });

  it('redacts a credential inside a longer string, keeping the rest of the text', () => {
    const e = auditEventFromEnvelope(
      env({
        error: 'renew of hvs.CAESIJ0123456789abcdefghijkl failed: permission denied',
        output: 'jwt=eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln done',
      }),
    );
    expect(e.data).toEqual({
      error: `renew of ${REDACTED} failed: permission denied`,
      output: `jwt=${REDACTED} done`,
      [REDACTED_KEY]: ['$.data.error', '$.data.output'],
    });
  });

  it('refuses (policy refuse) and the ledger guard refuses a credential embedded in text', () => {
    const leaky = env({ message: 'token was hvs.CAESIJ0123456789abcdefghijkl, sorry' });
    expect(() => auditEventFromEnvelope(leaky, { secrets: 'refuse' })).toThrow(InvalidMessageError);
    expect(() =>
      encodeEvent({
        id: 'x',
        ts: 1,
        type: 't',
        actor: 'a',
        data: { message: 'seed SU' + 'A'.repeat(56) + ' used' },
      }),
    ).toThrow(/NATS nkey seed/);
  });

  it('strips secret keys and credential-looking values, listing their paths, and keeps token accessors', () => {
    const e = auditEventFromEnvelope(
      env({
        accessor: 'acc-1',
        tokenAccessor: 'acc-2',
        token: 'hvs.CAESIJ0123456789abcdefghijkl',
        nested: { clientSecret: 'x', list: ['fine', 'hvs.CAESIJ0123456789abcdefghijkl'] },
      }),
    );
    expect(e.data).toEqual({
      accessor: 'acc-1',
      tokenAccessor: 'acc-2',
      nested: { list: ['fine', REDACTED] },
      [REDACTED_KEY]: ['$.data.token', '$.data.nested.clientSecret', '$.data.nested.list[1]'],
    });
    expect(JSON.stringify(e)).not.toContain('hvs.');
    expect(() => encodeEvent(e)).not.toThrow();
  });

  it('refuses a body holding a secret under the refuse policy, naming the path and never the value', () => {
    const attempt = () => auditEventFromEnvelope(env({ password: 'hunter2' }), { secrets: 'refuse' });
    expect(attempt).toThrow(InvalidMessageError);
    expect(attempt).toThrow(/\$\.data\.password/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  it('drops undefined properties like JSON does, wraps a non-object body, and rejects values that are not JSON', () => {
    expect(auditEventFromEnvelope(env({ a: 1, b: undefined })).data).toEqual({ a: 1 });
    expect(auditEventFromEnvelope(env('text')).data).toEqual({ value: 'text' });
    expect(() => auditEventFromEnvelope(env({ when: new Date(0) }))).toThrow(InvalidMessageError);
    expect(() => auditEventFromEnvelope(env({ n: 10n }))).toThrow(/bigint is not JSON/);
  });
});
