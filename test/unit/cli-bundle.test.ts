import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleIsCurrent } from '../../infra/index.ts';

describe('the CLI launcher uses the bundle only while it is current', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  /** A checkout with one source file and a bundle, the source `sourceAgeS` seconds old, the bundle 100 s. */
  const checkout = (sourceAgeS: number) => {
    const root = mkdtempSync(join(tmpdir(), 'agov-bundle-'));
    roots.push(root);
    for (const d of [
      'actors/agent',
      'bus',
      'protocols',
      'supervisors',
      'system',
      'infra',
      'chaos',
      'cli',
      'dist',
    ])
      mkdirSync(join(root, d), { recursive: true });
    const now = Date.now() / 1000;
    writeFileSync(join(root, 'dist/agov.mjs'), '');
    utimesSync(join(root, 'dist/agov.mjs'), now - 100, now - 100);
    writeFileSync(join(root, 'actors/agent/agent.ts'), '');
    utimesSync(join(root, 'actors/agent/agent.ts'), now - sourceAgeS, now - sourceAgeS);
    return root;
  };

  it('uses a bundle built after every source file', () => {
    expect(bundleIsCurrent(checkout(200))).toBe(true);
  });

  it('refuses a bundle older than a source file in a nested folder (an edited checkout never runs stale code)', () => {
    expect(bundleIsCurrent(checkout(10))).toBe(false);
  });

  it('refuses a missing bundle', () => {
    const root = checkout(200);
    rmSync(join(root, 'dist/agov.mjs'));
    expect(bundleIsCurrent(root)).toBe(false);
  });
});
