#!/usr/bin/env node
// The `agov` command: the bundle in dist/ when it is current (fast start), else the TypeScript sources
// through tsx, so there is no build step between a checkout and a running system (infra/cli-bundle.mjs).
import { BUNDLE_ENTRY, bundleIsCurrent } from '../infra/cli-bundle.mjs';

if (bundleIsCurrent()) {
  await import(BUNDLE_ENTRY);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./index.ts');
}
