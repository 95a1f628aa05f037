import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toHttpError } from '../../actors/gateway/http-errors.ts';
import { escapeLabelValue, GatewayMetrics } from '../../actors/gateway/metrics.ts';
import { OPENAPI_FILE, openApiDocument, renderOpenApi } from '../../actors/gateway/openapi.ts';
import { gatewayRoutes } from '../../actors/gateway/routes/index.ts';
import { checkRunTier } from '../../actors/gateway/routes/pipelines.ts';
import {
  ForbiddenError,
  NoRespondersError,
  NotFoundError,
  PipelineInvalidError,
  TierForbiddenError,
  TimeoutError,
  VaultError,
} from '../../protocols/vocabulary/errors.ts';

describe('gateway error mapping', () => {
  it('maps bus errors to HTTP statuses with the error body', () => {
    expect(toHttpError(new NoRespondersError('nobody'), 'r').status).toBe(503);
    expect(toHttpError(new TimeoutError('slow'), 'r').status).toBe(504);
    expect(toHttpError(new NotFoundError('gone'), 'r').status).toBe(404);
    expect(toHttpError(new ForbiddenError('no'), 'r').status).toBe(403);
    expect(toHttpError(new TierForbiddenError('no'), 'r').status).toBe(403);
    expect(toHttpError(new VaultError('down'), 'r').status).toBe(500);
    const invalid = toHttpError(
      new PipelineInvalidError('bad', { details: { diagnostics: [{ line: 3 }] } }),
      'r',
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body).toEqual({
      error: {
        code: 'GOV_ERR_PIPELINE_INVALID',
        message: 'bad',
        retryable: false,
        details: { diagnostics: [{ line: 3 }] },
      },
    });
  });

  it('keeps the message of an unexpected exception out of the body', () => {
    const h = toHttpError(new Error('secret internals at /srv/x'), 'req-9');
    expect(h.status).toBe(500);
    expect(h.body.error.code).toBe('GOV_ERR_INTERNAL');
    expect(h.body.error.message).not.toContain('secret internals');
    expect(h.body.error.message).toContain('req-9');
  });

  it("maps Fastify's body errors: too large 413, bad JSON 400, wrong media type 415", () => {
    expect(
      toHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'x' }, 'r').status,
    ).toBe(413);
    expect(
      toHttpError({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, message: 'x' }, 'r').body.error
        .code,
    ).toBe('GOV_ERR_INVALID_MESSAGE');
    expect(
      toHttpError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'x' }, 'r').status,
    ).toBe(415);
  });
});

describe('gateway metrics exposition', () => {
  it('renders HTTP and bus counters in Prometheus text with escaped labels', () => {
    const m = new GatewayMetrics();
    m.recordRequest('GET', '/health', 200, 0.002);
    m.recordRequest('GET', '/health', 200, 0.003);
    m.recordRequest('POST', '/api/pipelines', 403, 0.001);
    const text = m.render({
      counters: {
        sent: 3,
        'rejected.GOV_ERR_DECODE': 2,
        'dead-lettered': 2,
        'dead-lettered.GOV_ERR_DECODE': 2,
      },
      connected: true,
    });
    expect(text).toContain('# TYPE agov_gateway_http_requests_total counter');
    expect(text).toContain('agov_gateway_http_requests_total{method="GET",route="/health",status="200"} 2');
    expect(text).toContain(
      'agov_gateway_http_requests_total{method="POST",route="/api/pipelines",status="403"} 1',
    );
    expect(text).toContain(
      'agov_gateway_http_request_duration_seconds_count{method="GET",route="/health"} 2',
    );
    expect(text).toContain('agov_bus_rejected_total{code="GOV_ERR_DECODE"} 2');
    expect(text).toContain('agov_bus_dead_lettered_total{code="GOV_ERR_DECODE"} 2');
    expect(text).toContain('agov_bus_events_total{event="sent"} 3');
    expect(text).toContain('agov_gateway_bus_connected 1');
    expect(text.endsWith('\n')).toBe(true);
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('gateway OpenAPI document', () => {
  it('documents every route with its tier, and is the committed docs/openapi.json', () => {
    const doc = openApiDocument(gatewayRoutes()) as {
      paths: Record<string, Record<string, { 'x-agov-tier'?: string; responses: Record<string, unknown> }>>;
    };
    for (const r of gatewayRoutes()) {
      const op = doc.paths[r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      if (r.auth === 'T0' || r.auth === 'T1' || r.auth === 'T2') {
        expect(op?.['x-agov-tier']).toBe(r.auth);
        expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
    expect(readFileSync(new URL(`../../${OPENAPI_FILE}`, import.meta.url), 'utf8')).toBe(
      renderOpenApi(gatewayRoutes()),
    );
  });
});

describe('starting a pipeline over HTTP', () => {
  const yaml = (tier: string) =>
    `name: t\nversion: 1\nstages:\n  - id: a\n    agent: { tier: ${tier} }\n    task: { kind: noop }\n`;
  it('needs a key at least as high as every stage tier, and T2 for a server-side file', async () => {
    await expect(checkRunTier({ name: 'ops', tier: 'T1' }, { yaml: yaml('T1') })).resolves.toBeUndefined();
    await expect(checkRunTier({ name: 'ops', tier: 'T1' }, { yaml: yaml('T2') })).rejects.toThrow(
      /stage a \(noop\) runs at T2/,
    );
    await expect(checkRunTier({ name: 'ops', tier: 'T1' }, { file: 'x.yaml' })).rejects.toThrow(
      ForbiddenError,
    );
    await expect(checkRunTier({ name: 'root', tier: 'T2' }, { file: 'x.yaml' })).resolves.toBeUndefined();
    await expect(checkRunTier({ name: 'ops', tier: 'T1' }, { yaml: 'not: [valid' })).resolves.toBeUndefined();
  });

  // Regression (issue #12): a T1 key got T2 stages through a template, the diagnostic, a root token.
  const t2Template = `templates:\n  admin:\n    stages:\n      - id: x\n        agent: { tier: T2 }\n        task: { kind: noop }\n`;
  const attacks: Record<string, string> = {
    'a pipeline stage naming a template with a T2 stage': `name: t\nversion: 1\n${t2Template}stages:\n  - id: a\n    task: { kind: pipeline, name: admin }\n`,
    'the error budget diagnostic naming such a template': `name: t\nversion: 1\n${t2Template}errorBudget: { maxErrors: 1, windowMs: 1000, diagnostic: admin }\nstages:\n  - id: a\n    task: { kind: noop }\n`,
    'a token policy above the key': `name: t\nversion: 1\ntoken: { policies: [agov-tier-t2] }\nstages:\n  - id: a\n    task: { kind: noop }\n`,
    'an exec stage asking for the network': `name: t\nversion: 1\nstages:\n  - id: a\n    task: { kind: exec, command: ["true"], network: true }\n`,
  };
  for (const [what, text] of Object.entries(attacks)) {
    it(`refuses a T1 key ${what} with 403, naming the stage`, async () => {
      const err = await checkRunTier({ name: 'ops', tier: 'T1' }, { yaml: text }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ForbiddenError);
      expect((err as ForbiddenError).details).toMatchObject({ required: 'T2', tier: 'T1' });
      await expect(checkRunTier({ name: 'adm', tier: 'T2' }, { yaml: text })).resolves.toBeUndefined();
    });
  }

  it('never grants the root policy, and refuses absolute or escaping file references, whatever the tier', async () => {
    const root = `name: t\nversion: 1\ntoken: { policies: [root] }\nstages:\n  - id: a\n    task: { kind: noop }\n`;
    await expect(checkRunTier({ name: 'adm', tier: 'T2' }, { yaml: root })).rejects.toMatchObject({
      code: 'GOV_ERR_POLICY_VIOLATION',
    });
    for (const file of ['/etc/hostname', '../../.data/api-keys', 'a/../../b.yaml']) {
      const text = `name: t\nversion: 1\nstages:\n  - id: a\n    task: { kind: pipeline, file: "${file}" }\n`;
      await expect(checkRunTier({ name: 'adm', tier: 'T2' }, { yaml: text })).rejects.toMatchObject({
        code: 'GOV_ERR_POLICY_VIOLATION',
      });
    }
  });
});
