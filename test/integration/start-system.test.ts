import { afterAll, describe, expect, it } from 'vitest';
import { allChildren } from '../../supervisors/index.ts';
import { parseTeams, SYSTEM_SERVICE_KINDS, waitForAllRunning } from '../../system/index.ts';
import { TestServers } from '../harness/index.ts';

const servers = new TestServers();
afterAll(() => servers.stopAll());

const TEAMS = `
teams:
  - id: small
    members:
      - { id: small-proc, tier: T1, process: true }
      - { id: small-inhost, tier: T0 }
`;

const WATCHED = ['NATS_URL', 'REDIS_URL', 'VAULT_ADDR', 'VAULT_TOKEN', 'AGOV_DATA_DIR', 'AGOV_API_KEYS_FILE'];

describe('startSystem', () => {
  it('starts every service and agent, processes included, from their child specs alone: the environment is left as it was', async () => {
    const before = Object.fromEntries(WATCHED.map((k) => [k, process.env[k]]));
    const sys = await servers.system({
      teams: parseTeams(TEAMS, 'small-teams'),
      servicesAsProcesses: true,
      serviceArgs: { gateway: { port: 0 } },
      localApiKeys: true,
    });
    const tree = await waitForAllRunning(sys, 120_000);
    const children = allChildren(tree);
    expect(children.filter((c) => c.status !== 'running').map((c) => c.id)).toEqual([]);
    const running = new Set(children.map((c) => c.actorKind));
    for (const kind of SYSTEM_SERVICE_KINDS) expect(running.has(kind), kind).toBe(true);
    // Process children found Redis, Vault and the data folder through their specs, not an inherited variable.
    const processes = await sys.processes();
    expect(processes.map((p) => p.actorId)).toContain('small-proc');
    expect(processes.map((p) => p.actorKind)).toContain('token-authority');
    expect(Object.fromEntries(WATCHED.map((k) => [k, process.env[k]]))).toEqual(before);
  }, 180_000);
});
