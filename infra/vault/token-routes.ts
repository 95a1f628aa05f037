/** The token auth method's routes (`/v1/auth/token/*`) of the Vault dev server, over its TokenStore. */
import { VaultApiError } from './api-error.ts';
import { stringField } from './http.ts';
import { type Op, only, type Route, type RouteLookup } from './route.ts';
import type { TokenEntry, TokenStore } from './token-store.ts';

/** The route of an `auth/token/…` path, unsupported for the wrong operation, undefined for another path. */
export function tokenRoute(store: TokenStore, path: string, op: Op): RouteLookup {
  const update = (run: Route['run']) => only(op, ['update'], { capability: 'update', run });
  const byAccessor = (body: Record<string, unknown>): TokenEntry => {
    const accessor = stringField(body, 'accessor');
    if (!accessor) throw new VaultApiError(400, ['missing accessor']);
    const te = store.getByAccessor(accessor);
    if (!te) throw new VaultApiError(400, ['invalid accessor']);
    return te;
  };
  const tokenId = (body: Record<string, unknown>): string => {
    const id = stringField(body, 'token');
    if (!id) throw new VaultApiError(400, ['missing token ID']);
    return id;
  };
  switch (path) {
    case 'auth/token/create':
    case 'auth/token/create-orphan':
      return update((c) =>
        store.create(c.body, {
          caller: c.caller,
          path: c.path,
          sudo: c.sudo,
          orphanEndpoint: path === 'auth/token/create-orphan',
        }),
      );
    case 'auth/token/lookup':
      return only(op, ['read', 'update'], {
        capability: op === 'read' ? 'read' : 'update',
        run: (c) => {
          const id = stringField(c.body, 'token') || c.caller.id;
          const te = store.get(id);
          if (!te) throw new VaultApiError(403, ['bad token']);
          return { data: store.lookupData(te) };
        },
      });
    case 'auth/token/lookup-self':
      return only(op, ['read', 'update'], {
        capability: op === 'read' ? 'read' : 'update',
        run: (c) => ({ data: store.lookupData(c.caller) }),
      });
    case 'auth/token/lookup-accessor':
      return update((c) => ({ data: { ...store.lookupData(byAccessor(c.body)), id: '' } }));
    case 'auth/token/renew':
      return update((c) => {
        const te = store.get(tokenId(c.body));
        if (!te) throw new VaultApiError(400, ['token not found']);
        return store.renew(te, c.body.increment, te.id);
      });
    case 'auth/token/renew-self':
      return update((c) => store.renew(c.caller, c.body.increment, c.caller.id));
    case 'auth/token/renew-accessor':
      return update((c) => store.renew(byAccessor(c.body), c.body.increment, ''));
    case 'auth/token/revoke':
      return update((c) => {
        store.revokeTree(tokenId(c.body));
        return null;
      });
    case 'auth/token/revoke-self':
      return update((c) => {
        store.revokeTree(c.caller.id);
        return null;
      });
    case 'auth/token/revoke-accessor':
      return update((c) => {
        const accessor = stringField(c.body, 'accessor');
        if (!accessor) throw new VaultApiError(400, ['missing accessor']);
        const te = store.getByAccessor(accessor);
        if (!te) return { warnings: ['No token found with this accessor'] };
        store.revokeTree(te.id);
        return null;
      });
    case 'auth/token/revoke-orphan':
      return update((c) => {
        const id = tokenId(c.body);
        if (!c.sudo) throw new VaultApiError(400, ['root or sudo privileges required to revoke and orphan']);
        if (!store.get(id)) throw new VaultApiError(400, ['token to revoke not found']);
        store.revokeOrphan(id);
        return null;
      });
    case 'auth/token/accessors':
      return only(op, ['list'], {
        capability: 'list',
        run: (c) => {
          if (!c.sudo) throw new VaultApiError(403, ['permission denied']);
          return { data: { keys: store.accessors() } };
        },
      });
    default:
      return undefined;
  }
}
