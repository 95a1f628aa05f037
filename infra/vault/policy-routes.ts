/**
 * The ACL policy routes of the Vault dev server: the list (`sys/policy`, `sys/policies/acl`) and one
 * policy read, written or deleted (`sys/policy/<name>` answers in the legacy `rules` shape).
 */
import { PolicyParseError, type PolicyStore } from './acl.ts';
import { VaultApiError } from './api-error.ts';
import { stringField } from './http.ts';
import { type Op, only, type RouteLookup, UNSUPPORTED } from './route.ts';

/** The route of a `sys/policy…` or `sys/policies/acl…` path; undefined for another path. */
export function policyRoute(policies: PolicyStore, path: string, op: Op): RouteLookup {
  if (path === 'sys/policy' || path === 'sys/policies/acl') {
    return only(op, ['read', 'list'], {
      capability: op === 'list' ? 'list' : 'read',
      run: () => ({ data: { keys: policies.names(), policies: policies.names() } }),
    });
  }
  const m = /^sys\/(?:policy|policies\/acl)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  return onePolicy(
    policies,
    decodeURIComponent(m[1] ?? '').toLowerCase(),
    op,
    path.startsWith('sys/policy/'),
  );
}

function onePolicy(policies: PolicyStore, name: string, op: Op, legacy: boolean): RouteLookup {
  switch (op) {
    case 'read':
      return {
        capability: 'read',
        run: () => {
          const text = policies.get(name);
          if (text === undefined) throw new VaultApiError(404, []);
          return { data: legacy ? { name, rules: text } : { name, policy: text } };
        },
      };
    case 'update':
      return {
        capability: 'update',
        run: (c) => {
          if (name === 'root') throw new VaultApiError(400, ['cannot update "root" policy']);
          const text = stringField(c.body, 'policy') || stringField(c.body, 'rules');
          if (!text) throw new VaultApiError(400, ["'policy' parameter not supplied or empty"]);
          try {
            policies.set(name, text);
          } catch (err) {
            if (err instanceof PolicyParseError) throw new VaultApiError(400, [err.message]);
            throw err;
          }
          return null;
        },
      };
    case 'delete':
      return {
        capability: 'delete',
        run: () => {
          if (name === 'root' || name === 'default')
            throw new VaultApiError(400, [`cannot delete "${name}" policy`]);
          policies.delete(name);
          return null;
        },
      };
    default:
      return UNSUPPORTED;
  }
}
