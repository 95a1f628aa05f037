/**
 * Secrets out of task results: before a result leaves the agent (to the orchestrator, which stores,
 * publishes and audits it), every string in its output and error is scanned for each secret the
 * agent knows, as a substring, and the secret is replaced by {@link REDACTED}.
 *
 * The secrets the agent knows: the child tokens it holds (and their accessors), and the values of its
 * own environment that are credentials — every variable with a system prefix (SYSTEM_ENV_PREFIXES:
 * VAULT_TOKEN, NATS_PASSWORD, AGOV_API_KEYS…) or a name that says so (TOKEN, SECRET, PASSWORD, KEY,
 * CREDS), and the keys of the gateway's API key file (AGOV_API_KEYS_FILE) and inline key list.
 * Values shorter than {@link MIN_SECRET_LENGTH} are not treated as secrets (they would redact
 * ordinary words and numbers).
 */
import { readFileSync, statSync } from 'node:fs';
import { isSystemEnvName } from '../../protocols/pipeline/options.ts';

export const REDACTED = '[REDACTED]';
/** Shorter values are not scanned for: too likely to be ordinary text. */
export const MIN_SECRET_LENGTH = 8;

const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDS|CREDENTIAL/i;
/** Values of these system variables are addresses and paths, not secrets (redacting them would mangle paths in output). */
const NOT_SECRET_NAME = /(_URL|_ADDR|_DIR|_FILE|_PATH|_HOST|_PORT)$/;

/** `name:tier:key` specs → the keys. */
function keysOfSpecs(lines: Iterable<string>): string[] {
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second > 0) out.push(line.slice(second + 1));
  }
  return out;
}

/** The credentials among `env`'s values (see the module comment). Pure apart from reading the key file. */
export function environmentSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if ((isSystemEnvName(name) || SECRET_NAME.test(name)) && !NOT_SECRET_NAME.test(name)) out.push(value);
  }
  if (env.AGOV_API_KEYS) out.push(...keysOfSpecs(env.AGOV_API_KEYS.split(',')));
  const file = env.AGOV_API_KEYS_FILE;
  if (file) {
    try {
      out.push(...keysOfSpecs(readFileSync(file, 'utf8').split('\n')));
    } catch {
      // No readable key file: nothing more to know.
    }
  }
  return out;
}

/** Deep copy of `value` with every occurrence of each secret in every string replaced. */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const list = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort(
    (a, b) => b.length - a.length,
  );
  if (list.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let s = v;
      for (const secret of list) if (s.includes(secret)) s = s.split(secret).join(REDACTED);
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x);
      return o;
    }
    return v;
  };
  return walk(value) as T;
}

/**
 * The environment's secrets, re-read when the key file changes (checked at most once a second): the
 * gateway may write its key file after the agent started.
 */
export class EnvironmentSecrets {
  private cached: string[] | undefined;
  private stamp = '';
  private checkedAt = 0;

  constructor(
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): string[] {
    const t = this.now();
    if (this.cached && t - this.checkedAt < 1_000) return this.cached;
    this.checkedAt = t;
    let stamp = '';
    const file = this.env.AGOV_API_KEYS_FILE;
    if (file) {
      try {
        const st = statSync(file);
        stamp = `${st.mtimeMs}:${st.size}`;
      } catch {
        stamp = 'missing';
      }
    }
    if (!this.cached || stamp !== this.stamp) {
      this.cached = environmentSecrets(this.env);
      this.stamp = stamp;
    }
    return this.cached;
  }
}
