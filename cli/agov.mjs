#!/usr/bin/env node
// The `agov` command. Runs the TypeScript sources directly through tsx, so there is no build step
// between a checkout and a running system.
import { register } from 'tsx/esm/api';

register();
await import('./index.ts');
