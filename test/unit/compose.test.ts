/**
 * compose.yaml checked without a Docker engine, against the code: the environment names it sets are
 * read by infra/environment.ts, the gateway listens on every interface on the published port, the
 * entry point resolves to a command of the CLI, health checks probe routes that exist, services start
 * in order, and .dockerignore keeps the host's dependencies, data and history out of the image.
 * (test/integration/compose.test.ts runs the stack itself where AGOV_TEST_COMPOSE=1.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_GATEWAY_PORT, gatewayRoutes } from '../../actors/gateway/index.ts';
import { COMMANDS } from '../../cli/commands.ts';

type Service = {
  image?: string;
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
};
const file = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const compose = parse(file('compose.yaml')) as { services: Record<string, Service> };
const agov = compose.services.agov!;
const env = agov.environment!;

describe('compose.yaml', () => {
  it('is valid YAML describing nats, dragonfly, vault and agov', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agov', 'dragonfly', 'nats', 'vault']);
  });

  it('runs NATS with JetStream enabled on the standard client port', () => {
    expect(compose.services.nats!.command).toContain('-js');
    expect(compose.services.nats!.ports).toContain('4222:4222');
  });

  it('sets only environment variables the code reads (infra/environment.ts)', () => {
    const reader = file('infra/environment.ts');
    for (const name of Object.keys(env)) expect(reader, name).toContain(`env.${name}`);
  });

  it('points agov at the services by name and port', () => {
    const port = (svc: string, p: string) => compose.services[svc]!.ports!.some((x) => x.endsWith(`:${p}`));
    expect(env.NATS_URL).toBe('nats://nats:4222');
    expect(port('nats', '4222')).toBe(true);
    expect(env.REDIS_URL).toBe('redis://dragonfly:6379');
    expect(port('dragonfly', '6379')).toBe(true);
    expect(env.VAULT_ADDR).toBe('http://vault:8200');
    expect(port('vault', '8200')).toBe(true);
    // The data folder (ledger, keys, embedded servers' state) must be on the agov volume, or a
    // container restart loses the ledger.
    expect(env.AGOV_DATA_DIR).toMatch(/^\//);
    expect(agov.volumes).toContain(`agov-data:${env.AGOV_DATA_DIR}`);
  });

  it('makes the gateway listen on every interface on the port it publishes (regression: it bound 127.0.0.1 in its container)', () => {
    expect(env.AGOV_HTTP_HOST).toBe('0.0.0.0');
    const gatewayPort = Number(env.AGOV_HTTP_PORT ?? DEFAULT_GATEWAY_PORT);
    expect(agov.ports!.map((p) => Number(p.split(':').at(-1)))).toContain(gatewayPort);
  });

  it('starts a command of the CLI through an entry point that exists, the same as the image’s', () => {
    const [node, entry, command] = agov.command!;
    expect(node).toBe('node');
    expect(existsSync(new URL(`../../${entry}`, import.meta.url))).toBe(true);
    expect(COMMANDS.map((c) => c.name)).toContain(command);
    expect(file('Dockerfile')).toContain(`CMD ${JSON.stringify(agov.command).replaceAll(',', ', ')}`);
  });

  it('gives every service a health check, agov’s on a route the gateway serves, and starts agov after the others are healthy', () => {
    for (const [name, svc] of Object.entries(compose.services))
      expect(svc.healthcheck?.test.length, name).toBeGreaterThan(0);
    expect(agov.healthcheck!.test.join(' ')).toContain(`:${env.AGOV_HTTP_PORT}/health'`);
    expect(gatewayRoutes().map((r) => r.url)).toContain('/health');
    expect(agov.depends_on).toEqual({
      nats: { condition: 'service_healthy' },
      dragonfly: { condition: 'service_healthy' },
      vault: { condition: 'service_healthy' },
    });
  });
});

describe('.dockerignore', () => {
  it('keeps node_modules, .data and .git out of the image (regression: COPY . . copied the host’s)', () => {
    const lines = file('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', '.data', '.git']) expect(lines).toContain(p);
    expect(file('Dockerfile')).toMatch(/^RUN npm ci/m);
  });
});
