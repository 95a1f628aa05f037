/**
 * compose.yaml checked without a Docker engine, against the code: the environment names it sets are
 * read by infra/environment.ts, the gateway listens on every interface on the published port, the
 * entry point resolves to a command of the CLI, health checks probe routes that exist, services start
 * in order, and .dockerignore keeps the host's dependencies, data and history out of the image.
 * (test/integration/compose.test.ts runs the stack itself where AGOV_TEST_COMPOSE=1.)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_GATEWAY_PORT, gatewayRoutes } from '../../actors/gateway/index.ts';
import { commandNats } from '../../cli/command-nats.ts';
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
  it('is valid YAML describing nats (and its init step), dragonfly, vault and agov', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agov', 'dragonfly', 'nats', 'nats-init', 'vault']);
  });

  it('runs NATS with auth and JetStream from the config `agov nats init` writes, in a volume both mount at the same path', async () => {
    const init = compose.services['nats-init']!;
    const nats = compose.services.nats!;
    const [node, entry, command, sub, ...flags] = init.command!;
    expect([node, entry, command, sub]).toEqual(['node', 'cli/agov.mjs', 'nats', 'init']);
    expect(COMMANDS.map((c) => c.name)).toContain('nats');
    const configDir = flags[flags.indexOf('--config-dir') + 1]!;
    const storeDir = flags[flags.indexOf('--store-dir') + 1]!;
    expect(nats.command).toEqual(['-c', `${configDir}/nats-server.conf`]);
    const volumeAt = (svc: Service, path: string) =>
      svc.volumes!.find((v) => v.endsWith(`:${path}`))?.split(':')[0];
    expect(volumeAt(init, configDir)).toBeDefined();
    expect(volumeAt(nats, configDir)).toBe(volumeAt(init, configDir));
    expect(volumeAt(nats, storeDir)).toBe('nats-data');
    expect(nats.depends_on).toEqual({ 'nats-init': { condition: 'service_completed_successfully' } });
    // The keys go where agov looks for them: the same data folder on the same volume.
    expect(init.environment!.AGOV_DATA_DIR).toBe(env.AGOV_DATA_DIR);
    expect(volumeAt(init, env.AGOV_DATA_DIR!)).toBe(volumeAt(agov, env.AGOV_DATA_DIR!));

    // What the init step writes: run it here, into temporary folders standing for the two volumes.
    const data = mkdtempSync(join(tmpdir(), 'agov-compose-data-'));
    const conf = mkdtempSync(join(tmpdir(), 'agov-compose-conf-'));
    const saved = process.env.AGOV_DATA_DIR;
    const write = process.stdout.write;
    process.env.AGOV_DATA_DIR = data;
    process.stdout.write = () => true;
    try {
      expect(await commandNats(['init', '--config-dir', conf, '--store-dir', storeDir])).toBe(0);
    } finally {
      process.stdout.write = write;
      if (saved === undefined) delete process.env.AGOV_DATA_DIR;
      else process.env.AGOV_DATA_DIR = saved;
    }
    const text = readFileSync(join(conf, 'nats-server.conf'), 'utf8');
    expect(text).toMatch(/^port: 4222$/m);
    expect(text).toMatch(/^http_port: 8222$/m);
    expect(text).toContain(`jetstream { store_dir: "${storeDir}" }`);
    expect(text).toContain('operator:');
    expect(nats.ports).toEqual(['4222:4222', '8222:8222']);
    // Public JWTs only: no nkey seed (S…) in what the nats container mounts.
    for (const f of readdirSync(conf))
      expect(readFileSync(join(conf, f), 'utf8')).not.toMatch(/\bS[A-Z2-7]{57}\b/);
    rmSync(data, { recursive: true, force: true });
    rmSync(conf, { recursive: true, force: true });
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
    // Every long-running service; nats-init is a one-shot step that nats waits to complete instead.
    for (const [name, svc] of Object.entries(compose.services))
      if (name !== 'nats-init') expect(svc.healthcheck?.test.length, name).toBeGreaterThan(0);
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
