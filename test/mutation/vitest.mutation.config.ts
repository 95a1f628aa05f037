/**
 * The vitest configuration Stryker runs under `npm run mutation`: the project's, restricted to the
 * focused test files of the module under mutation (AGOV_MUTATION_TESTS, comma-separated, set by
 * test/mutation/run-mutation.mjs).
 *
 * Why not Stryker's `testFiles`: with a test filter, Stryker 10.1 activates a *static* mutant (code
 * that runs when the module loads: constants, an XState machine's config) only after the module has
 * loaded, so every static mutant "survives" whatever the tests assert (stryker-js#6144, #6209).
 * Without `testFiles` static mutants are activated before loading and really tested.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.ts';

const files = (process.env.AGOV_MUTATION_TESTS ?? '').split(',').filter((f) => f !== '');
if (files.length === 0) throw new Error('AGOV_MUTATION_TESTS names no test file (run `npm run mutation`)');

export default defineConfig({ ...base, test: { ...base.test, include: files } });
