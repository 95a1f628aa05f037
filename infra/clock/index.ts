/**
 * Time as actors see it: `Clock`, the system clock and `ManualClock` for tests. A folder of its own
 * below the rest of infra/, because infra/vault/ uses it while infra/index.ts re-exports the Vault dev
 * server (a sub-folder never imports its parent); light, so offline tools load it alone.
 */
export * from './clock.ts';
