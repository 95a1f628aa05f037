/**
 * API key authentication of the gateway: bearer keys, each with a name and a tier (T0 observer,
 * T1 executor, T2 admin).
 *
 * - Keys are configured as `name:tier:key` (the key is everything after the second `:`), inline
 *   (`apiKeys` arg / AGOV_API_KEYS, comma-separated) and/or one a line in a file (`apiKeysFile` /
 *   AGOV_API_KEYS_FILE, `#` starts a comment).
 * - Only SHA-256 digests of the keys are kept; a presented key is hashed and compared with every
 *   configured digest with `timingSafeEqual`, without stopping at the first match, so the time taken
 *   says nothing about which key (or how much of one) matched.
 * - Keys never appear in errors, logs, metrics or audit records: those carry the key's name.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, ForbiddenError, UnauthenticatedError } from '../../protocols/index.ts';
import { isTier, type Tier, TIERS, tierRank } from '../../protocols/index.ts';
import { DEFAULT_MIN_API_KEY_LENGTH } from './gateway-options.ts';

export interface Caller {
  /** The key's configured name (audited and logged instead of the key). */
  name: string;
  tier: Tier;
}

interface StoredKey extends Caller {
  digest: Buffer;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const KEY_RE = /^[\x21-\x7e]+$/;

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/**
 * Parses key specs (`name:tier:key`). `where` names the source in errors; errors never contain a key.
 */
export function parseApiKeys(
  specs: readonly string[],
  where = 'apiKeys',
  minKeyLength = DEFAULT_MIN_API_KEY_LENGTH,
): Array<Caller & { key: string }> {
  const out: Array<Caller & { key: string }> = [];
  specs.forEach((spec, i) => {
    const first = spec.indexOf(':');
    const second = first < 0 ? -1 : spec.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new ConfigError(`${where} entry ${i + 1}: expected "name:tier:key"`);
    const name = spec.slice(0, first);
    const tier = spec.slice(first + 1, second);
    const key = spec.slice(second + 1);
    if (!NAME_RE.test(name))
      throw new ConfigError(`${where} entry ${i + 1}: name must be 1-64 letters, digits, '_', '.' or '-'`);
    if (!isTier(tier)) {
      throw new ConfigError(
        `${where} entry ${i + 1} (${name}): tier must be one of ${TIERS.join(', ')}, got ${JSON.stringify(tier)}`,
      );
    }
    if (key.length < minKeyLength || !KEY_RE.test(key)) {
      throw new ConfigError(
        `${where} entry ${i + 1} (${name}): key must be at least ${minKeyLength} printable characters without spaces`,
      );
    }
    out.push({ name, tier, key });
  });
  return out;
}

/** Reads a key file: one `name:tier:key` a line; blank lines and `#` comments are skipped. */
export function readApiKeysFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read API keys file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** The configured keys, by digest only. */
export class ApiKeyStore {
  private readonly keys: StoredKey[];

  constructor(keys: ReadonlyArray<Caller & { key: string }>) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.keys = keys.map((k) => {
      if (names.has(k.name)) throw new ConfigError(`API key name ${k.name} is configured twice`);
      const d = digest(k.key);
      if (digests.has(d.toString('hex')))
        throw new ConfigError(`API key ${k.name} has the same key as another entry`);
      names.add(k.name);
      digests.add(d.toString('hex'));
      return { name: k.name, tier: k.tier, digest: d };
    });
  }

  /** Keys from inline specs and an optional file. */
  static fromConfig(specs: readonly string[], file: string | undefined): ApiKeyStore {
    const keys = parseApiKeys(specs, 'apiKeys');
    if (file) keys.push(...parseApiKeys(readApiKeysFile(file), `API keys file ${file}`));
    return new ApiKeyStore(keys);
  }

  get size(): number {
    return this.keys.length;
  }

  /** Names and tiers (for the start log), never keys. */
  list(): Caller[] {
    return this.keys.map(({ name, tier }) => ({ name, tier }));
  }

  /** The caller whose key this is, or undefined; compares against every key in constant time. */
  match(presented: string): Caller | undefined {
    const d = digest(presented);
    let found: StoredKey | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(d, k.digest) && !found) found = k;
    }
    return found ? { name: found.name, tier: found.tier } : undefined;
  }

  /**
   * Authenticates an `Authorization` header value. Throws UnauthenticatedError (401) when it is
   * missing, not `Bearer <key>`, or names no configured key.
   */
  authenticate(authorization: string | string[] | undefined): Caller {
    const header = Array.isArray(authorization) ? authorization[0] : authorization;
    if (!header) throw new UnauthenticatedError('missing API key: send "Authorization: Bearer <key>"');
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) throw new UnauthenticatedError('malformed Authorization header: expected "Bearer <key>"');
    const caller = this.match(m[1]!);
    if (!caller) throw new UnauthenticatedError('invalid API key');
    return caller;
  }

  /** The caller of an `Authorization` header value, or undefined when it names no configured key. */
  identify(authorization: string | string[] | undefined): Caller | undefined {
    try {
      return this.authenticate(authorization);
    } catch {
      return undefined;
    }
  }
}

/** Throws ForbiddenError (403) unless `caller` is at least `required`. */
export function requireTier(caller: Caller, required: Tier, what: string): void {
  if (tierRank(caller.tier) < tierRank(required)) {
    throw new ForbiddenError(`${what} needs a ${required} key; key ${caller.name} is ${caller.tier}`, {
      details: { required, tier: caller.tier, keyName: caller.name },
    });
  }
}

/** Constant-time comparison of a presented bearer header with one secret (the metrics key). */
export function bearerMatches(authorization: string | string[] | undefined, secret: string): boolean {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(secret)) && m !== null;
}
