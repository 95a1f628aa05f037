import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

type Service = {
  image?: string;
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
};
const compose = parse(readFileSync(new URL('../../compose.yaml', import.meta.url), 'utf8')) as {
  services: Record<string, Service>;
};

describe('compose.yaml', () => {
  it('is valid YAML describing nats, dragonfly, vault and agov', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agov', 'dragonfly', 'nats', 'vault']);
  });

  it('runs NATS with JetStream enabled on the standard client port', () => {
    expect(compose.services.nats!.command).toContain('-js');
    expect(compose.services.nats!.ports).toContain('4222:4222');
  });

  it('points agov at the services by the environment variables the code reads', () => {
    const env = compose.services.agov!.environment!;
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
    expect(compose.services.agov!.volumes).toContain(`agov-data:${env.AGOV_DATA_DIR}`);
  });

  it('starts the same CLI entry the README uses', () => {
    expect(compose.services.agov!.command!.slice(0, 2)).toEqual(['node', 'cli/agov.mjs']);
  });
});
