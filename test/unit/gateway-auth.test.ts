import { describe, expect, it } from 'vitest';
import { ApiKeyStore, parseApiKeys, requireTier } from '../../actors/gateway/auth.ts';
import { GatewayArgsSchema, gatewaySettings as compile } from '../../actors/gateway/gateway-options.ts';
import { parseStartArgs } from '../../actors/runtime/start-args.ts';
import { readEnvironment } from '../../infra/index.ts';
import { environmentArgs } from '../../system/index.ts';

/** As `agov actor gateway` does: the environment's values under the given arguments. */
const gatewaySettings = (args: Record<string, unknown>, env: Record<string, string>) =>
  compile(
    parseStartArgs('gateway', GatewayArgsSchema, {
      ...environmentArgs('gateway', readEnvironment(env)),
      ...args,
    }),
  );
import { ConfigError, ForbiddenError, UnauthenticatedError } from '../../protocols/vocabulary/errors.ts';

const VIEWER = 'viewer-key-0123456789abcdef';
const ADMIN = 'admin:key:with:colons-0123456789';

describe('gateway API keys', () => {
  it('parses name:tier:key specs, keeping colons inside the key', () => {
    expect(parseApiKeys([`viewer:T0:${VIEWER}`, `root:T2:${ADMIN}`])).toEqual([
      { name: 'viewer', tier: 'T0', key: VIEWER },
      { name: 'root', tier: 'T2', key: ADMIN },
    ]);
  });

  it('refuses malformed specs, unknown tiers and short keys without echoing the key', () => {
    expect(() => parseApiKeys(['no-colons'])).toThrow(ConfigError);
    expect(() => parseApiKeys([`x:T9:${VIEWER}`])).toThrow(/tier must be one of T0, T1, T2/);
    const short = 'x:T1:short-secret';
    let message = '';
    try {
      parseApiKeys([short]);
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/at least 16/);
    expect(message).not.toContain('short-secret');
  });

  it('refuses a name or a key configured twice', () => {
    expect(() => ApiKeyStore.fromConfig([`a:T0:${VIEWER}`, `a:T1:${ADMIN}`], undefined)).toThrow(
      /configured twice/,
    );
    expect(() => ApiKeyStore.fromConfig([`a:T0:${VIEWER}`, `b:T1:${VIEWER}`], undefined)).toThrow(/same key/);
  });

  it('authenticates a bearer key to its name and tier, case-insensitively on the scheme', () => {
    const store = ApiKeyStore.fromConfig([`viewer:T0:${VIEWER}`, `root:T2:${ADMIN}`], undefined);
    expect(store.authenticate(`Bearer ${VIEWER}`)).toEqual({ name: 'viewer', tier: 'T0' });
    expect(store.authenticate(`bearer ${ADMIN}`)).toEqual({ name: 'root', tier: 'T2' });
    expect(store.list()).toEqual([
      { name: 'viewer', tier: 'T0' },
      { name: 'root', tier: 'T2' },
    ]);
  });

  it('answers a missing, malformed or unknown key with GOV_ERR_UNAUTHENTICATED', () => {
    const store = ApiKeyStore.fromConfig([`viewer:T0:${VIEWER}`], undefined);
    expect(() => store.authenticate(undefined)).toThrow(UnauthenticatedError);
    expect(() => store.authenticate(`Basic ${VIEWER}`)).toThrow(/malformed/);
    expect(() => store.authenticate(`Bearer ${VIEWER}x`)).toThrow(/invalid API key/);
    expect(() => store.authenticate(`Bearer ${VIEWER.slice(0, -1)}`)).toThrow(UnauthenticatedError);
  });

  it('forbids a key below the required tier and allows one at or above it', () => {
    expect(() => requireTier({ name: 'v', tier: 'T0' }, 'T2', 'POST /x')).toThrow(ForbiddenError);
    expect(() => requireTier({ name: 'o', tier: 'T1' }, 'T1', 'POST /x')).not.toThrow();
    expect(() => requireTier({ name: 'a', tier: 'T2' }, 'T0', 'GET /x')).not.toThrow();
  });
});

describe('gateway settings', () => {
  it('defaults to 127.0.0.1:8080 and reads keys from AGOV_API_KEYS', () => {
    const s = gatewaySettings({}, { AGOV_API_KEYS: `a:T0:${VIEWER}, b:T1:${ADMIN}` });
    expect(s.port).toBe(8080);
    expect(s.host).toBe('127.0.0.1');
    expect(s.apiKeySpecs).toEqual([`a:T0:${VIEWER}`, `b:T1:${ADMIN}`]);
    expect(s.services.orchestrator).toBe('orchestrator');
  });

  it('takes port 0 (a free port), key objects from args, and refuses a bad port', () => {
    const s = gatewaySettings({ port: '0', apiKeys: [{ name: 'a', tier: 'T2', key: ADMIN }] }, {});
    expect(s.port).toBe(0);
    expect(s.apiKeySpecs).toEqual([`a:T2:${ADMIN}`]);
    expect(() => gatewaySettings({ port: 70_000 }, {})).toThrow(/option port/);
  });
});
