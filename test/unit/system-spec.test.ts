import { describe, expect, it } from 'vitest';
import type { ChildSpec } from '../../supervisors/index.ts';
import { DEFAULT_LEDGER_WRITER_NICE, SYSTEM_SERVICE_NICE, systemSpec } from '../../system/index.ts';

const services = (servicesAsProcesses: boolean): ChildSpec[] => {
  const root = systemSpec({ teams: [], servicesAsProcesses });
  const s = root.children.find((c) => c.id === 'services')!.start;
  if (s.kind !== 'supervisor') throw new Error('services is not a supervisor');
  return s.spec.children;
};

describe('system spec', () => {
  it('runs the ledger writer process at the lower priority of DEFAULT_LEDGER_WRITER_NICE and every other service at normal priority', () => {
    expect(SYSTEM_SERVICE_NICE['ledger-writer']).toBe(DEFAULT_LEDGER_WRITER_NICE);
    const nices = Object.fromEntries(
      services(true).map((c) => [c.id, c.start.kind === 'process' ? c.start.nice : 'in-host']),
    );
    expect(nices['ledger-writer']).toBe(DEFAULT_LEDGER_WRITER_NICE);
    expect(nices['ledger-writer']).toBeGreaterThan(0); // lower priority than the services it serves
    for (const [id, nice] of Object.entries(nices))
      if (id !== 'ledger-writer') expect(nice, id).toBeUndefined();
  });

  it('gives in-host services no nice value, since they share the host process', () => {
    for (const c of services(false)) expect(c.start).not.toHaveProperty('nice');
  });
});

describe('system spec addresses', () => {
  const addresses = { redisUrl: 'redis://r', vaultAddr: 'http://v', vaultToken: 's.root', dataDir: '/d' };
  const spec = systemSpec({
    teams: [
      {
        id: 't',
        process: false,
        strategy: 'one_for_one',
        intensity: 1,
        periodMs: 1000,
        members: [{ id: 'a1', tier: 'T1', process: true, restart: 'permanent', shutdownMs: 1000 }],
        teams: [],
      },
    ],
    addresses,
  });
  const argsOf = (supervisorId: string, childId: string) => {
    const sup = spec.children.find((c) => c.id === supervisorId)!.start;
    if (sup.kind !== 'supervisor') throw new Error('not a supervisor');
    const find = (s: typeof sup.spec): Record<string, unknown> | undefined => {
      for (const c of s.children) {
        if (c.id === childId && c.start.kind !== 'supervisor') return c.start.args;
        if (c.start.kind === 'supervisor') {
          const found = find(c.start.spec);
          if (found) return found;
        }
      }
      return undefined;
    };
    return find(sup.spec);
  };

  it('hands each service only the service addresses it needs, as start arguments', () => {
    expect(argsOf('services', 'token-authority')).toMatchObject({
      redisUrl: 'redis://r',
      vaultAddr: 'http://v',
      vaultToken: 's.root',
    });
    expect(argsOf('services', 'ledger-writer')).toEqual({ dataDir: '/d' });
    expect(argsOf('services', 'orchestrator')).toEqual({});
    expect(argsOf('services', 'budget-monitor')).toEqual({ redisUrl: 'redis://r' });
  });

  it('hands every agent of every team its Redis and data folder, so a process agent needs no inherited environment', () => {
    expect(argsOf('teams', 'a1')).toMatchObject({
      redisUrl: 'redis://r',
      dataDir: '/d',
      tier: 'T1',
      team: 't',
    });
  });
});
