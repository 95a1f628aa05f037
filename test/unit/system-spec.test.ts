import { describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../actors/kinds.ts';
import { DEFAULT_LEDGER_WRITER_NICE } from '../../actors/ledger/ledger-writer-options.ts';
import type { ChildSpec } from '../../supervisors/child-spec.ts';
import { SYSTEM_SERVICE_NICE, systemSpec } from '../../supervisors/system-spec.ts';

const services = (servicesAsProcesses: boolean): ChildSpec[] => {
  const root = systemSpec({ registry: defaultRegistry(), teams: [], servicesAsProcesses });
  const s = root.children.find((c) => c.id === 'services')!.start;
  if (s.kind !== 'supervisor') throw new Error('services is not a supervisor');
  return s.spec.children;
};

describe('system spec', () => {
  it('runs the ledger writer process at the lower priority of DEFAULT_LEDGER_WRITER_NICE and every other service at normal priority', () => {
    expect(SYSTEM_SERVICE_NICE['ledger-writer']).toBe(DEFAULT_LEDGER_WRITER_NICE);
    expect(DEFAULT_LEDGER_WRITER_NICE).toBeGreaterThan(0);
    const nices = Object.fromEntries(
      services(true).map((c) => [c.id, c.start.kind === 'process' ? c.start.nice : 'in-host']),
    );
    expect(nices['ledger-writer']).toBe(DEFAULT_LEDGER_WRITER_NICE);
    for (const [id, nice] of Object.entries(nices))
      if (id !== 'ledger-writer') expect(nice, id).toBeUndefined();
  });

  it('gives in-host services no nice value, since they share the host process', () => {
    for (const c of services(false)) expect(c.start).not.toHaveProperty('nice');
  });
});
