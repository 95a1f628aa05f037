import { describe, expect, it } from 'vitest';
import { boundedTier } from '../../protocols/agent-identity.ts';

describe('the tier an agent is believed at (boundedTier)', () => {
  it('never above its credential’s: a T0 credential stating T2 is T0, a T1 stating T2 is T1', () => {
    expect(boundedTier('T2', 'T0')).toBe('T0');
    expect(boundedTier('T2', 'T1')).toBe('T1');
  });

  it('below its credential’s when it says so (a demotion takes effect at once)', () => {
    expect(boundedTier('T0', 'T2')).toBe('T0');
    expect(boundedTier('T1', 'T1')).toBe('T1');
  });

  it('T0 while its registration has not been heard (the receiver restarted)', () => {
    expect(boundedTier('T2', undefined)).toBe('T0');
  });
});
