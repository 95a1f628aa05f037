/**
 * A minimal Vault ACL for the dev server: named policies made of `path` rules with capabilities,
 * written through `sys/policy/:name` (field `rules` or `policy`) or `sys/policies/acl/:name` (field `policy`).
 *
 * Supported rule syntax (HCL or its JSON form):
 *   path "auth/token/create" { capabilities = ["create", "update", "sudo"] }
 *   path "auth/token/*"      { policy = "write" }          // legacy shorthand
 *   {"path": {"auth/token/create": {"capabilities": ["update"]}}}
 *
 * Path patterns: exact, trailing `*` (prefix glob) and `+` (one segment). Per policy, the most specific
 * matching rule wins (exact over glob, longer prefix over shorter); capabilities are unioned across a
 * token's policies and `deny` anywhere denies everything. `root` may do anything. Not supported:
 * parameter constraints, templating, control groups, Sentinel.
 */

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny' | 'patch';

const CAPABILITIES: ReadonlySet<string> = new Set([
  'create',
  'read',
  'update',
  'delete',
  'list',
  'sudo',
  'deny',
  'patch',
]);

const LEGACY: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

interface PathRule {
  pattern: string;
  capabilities: Set<Capability>;
}

export class PolicyParseError extends Error {}

/** The `default` policy's token rules, as in Vault's built-in default policy. */
export const DEFAULT_POLICY_RULES = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
`;

export class PolicyStore {
  private readonly policies = new Map<string, { text: string; rules: PathRule[] }>();

  constructor() {
    this.set('default', DEFAULT_POLICY_RULES);
  }

  names(): string[] {
    return ['root', ...[...this.policies.keys()].sort()].filter((n, i, a) => a.indexOf(n) === i);
  }

  has(name: string): boolean {
    return name === 'root' || this.policies.has(name);
  }

  get(name: string): string | undefined {
    if (name === 'root') return '';
    return this.policies.get(name)?.text;
  }

  /** Parses and stores a policy; throws {@link PolicyParseError} on text it cannot read. */
  set(name: string, text: string): void {
    this.policies.set(name, { text, rules: parsePolicy(text) });
  }

  delete(name: string): void {
    this.policies.delete(name);
  }

  /** Capabilities the union of `policyNames` grants on `path`. */
  capabilities(policyNames: readonly string[], path: string): Set<Capability> {
    if (policyNames.includes('root'))
      return new Set(['create', 'read', 'update', 'delete', 'list', 'sudo', 'patch']);
    const out = new Set<Capability>();
    for (const name of policyNames) {
      const policy = this.policies.get(name);
      if (!policy) continue;
      const rule = bestMatch(policy.rules, path);
      if (!rule) continue;
      if (rule.capabilities.has('deny')) return new Set();
      for (const c of rule.capabilities) out.add(c);
    }
    return out;
  }
}

function bestMatch(rules: readonly PathRule[], path: string): PathRule | undefined {
  let best: PathRule | undefined;
  let bestScore = -1;
  for (const rule of rules) {
    const score = matchScore(rule.pattern, path);
    if (score > bestScore) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}

/** -1: no match; higher is more specific (an exact match beats every glob). */
function matchScore(pattern: string, path: string): number {
  if (!pattern.includes('*') && !pattern.includes('+'))
    return pattern === path ? Number.MAX_SAFE_INTEGER : -1;
  const glob = pattern.endsWith('*');
  const body = glob ? pattern.slice(0, -1) : pattern;
  const re = new RegExp(
    `^${body
      .split('+')
      .map((s) => s.replace(/[.*?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+')}${glob ? '' : '$'}`,
  );
  return re.test(path) ? body.length : -1;
}

export function parsePolicy(text: string): PathRule[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('{')) return parseJsonPolicy(trimmed);
  const rules: PathRule[] = [];
  const block = /path\s+"([^"]+)"\s*\{([^}]*)\}/g;
  let consumed = trimmed.replace(/#[^\n]*/g, '');
  for (const m of trimmed.matchAll(block)) {
    const [whole, pattern, inner] = m as unknown as [string, string, string];
    consumed = consumed.replace(whole, '');
    rules.push({ pattern, capabilities: parseRuleBody(pattern, inner) });
  }
  if (consumed.trim() !== '')
    throw new PolicyParseError(`failed to parse policy: unexpected text "${consumed.trim().slice(0, 40)}"`);
  return rules;
}

function parseRuleBody(pattern: string, inner: string): Set<Capability> {
  const caps = new Set<Capability>();
  const list = /capabilities\s*=\s*\[([^\]]*)\]/.exec(inner);
  if (list) {
    for (const q of (list[1] ?? '').matchAll(/"([^"]*)"/g)) addCapability(caps, q[1] ?? '', pattern);
  }
  const legacy = /policy\s*=\s*"([^"]*)"/.exec(inner);
  if (legacy) {
    const mapped = LEGACY[legacy[1] ?? ''];
    if (!mapped)
      throw new PolicyParseError(`failed to parse policy: path "${pattern}": invalid policy "${legacy[1]}"`);
    for (const c of mapped) caps.add(c);
  }
  if (!list && !legacy)
    throw new PolicyParseError(`failed to parse policy: path "${pattern}": no capabilities`);
  return caps;
}

function addCapability(caps: Set<Capability>, c: string, pattern: string): void {
  if (!CAPABILITIES.has(c))
    throw new PolicyParseError(`failed to parse policy: path "${pattern}": invalid capability "${c}"`);
  caps.add(c as Capability);
}

function parseJsonPolicy(text: string): PathRule[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PolicyParseError(`failed to parse policy: ${(err as Error).message}`);
  }
  const paths = (doc as { path?: unknown }).path;
  if (typeof paths !== 'object' || paths === null)
    throw new PolicyParseError('failed to parse policy: no "path" object');
  const rules: PathRule[] = [];
  for (const [pattern, raw] of Object.entries(paths as Record<string, unknown>)) {
    const body = (raw ?? {}) as { capabilities?: unknown; policy?: unknown };
    const caps = new Set<Capability>();
    if (Array.isArray(body.capabilities))
      for (const c of body.capabilities) addCapability(caps, String(c), pattern);
    if (typeof body.policy === 'string') {
      const mapped = LEGACY[body.policy];
      if (!mapped)
        throw new PolicyParseError(
          `failed to parse policy: path "${pattern}": invalid policy "${body.policy}"`,
        );
      for (const c of mapped) caps.add(c);
    }
    rules.push({ pattern, capabilities: caps });
  }
  return rules;
}
