/**
 * The Vault dev server's request pipeline, over its engines (token store, ACL policies, transit,
 * response wrapping): the unauthenticated paths (`sys/health`, `sys/wrapping/lookup`, an unwrap by
 * the wrapping token itself), then the caller's token, the route and the capability its policies must
 * grant, the token's use counted, and the answer — wrapped when `X-Vault-Wrap-TTL` asks (or for
 * `sys/wrapping/wrap`). Every failure is Vault's `{"errors":[...]}` with its status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock/clock.ts';
import type { PolicyStore } from './acl.ts';
import { VaultApiError } from './api-error.ts';
import { clientToken, operation, readBody, send, sendResult, sendWrapped, stringField } from './http.ts';
import { policyRoute } from './policy-routes.ts';
import { type Op, only, type Route, type RouteLookup, UNSUPPORTED } from './route.ts';
import { tokenRoute } from './token-routes.ts';
import type { TokenEntry, TokenStore } from './token-store.ts';
import type { TransitEngine } from './transit.ts';
import { DEFAULT_WRAP_TTL_S, WrappingStore } from './wrapping.ts';

const VAULT_VERSION = '1.15.0+agov-dev';

export interface VaultEngines {
  clock: Clock;
  store: TokenStore;
  policies: PolicyStore;
  transit: TransitEngine;
  wrapping: WrappingStore;
  clusterId: string;
}

/** One request as the pipeline sees it. */
interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  path: string;
  body: Record<string, unknown>;
}

export class VaultApi {
  constructor(private readonly e: VaultEngines) {}

  /** Answers one HTTP request; never rejects. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      const status = err instanceof VaultApiError ? err.status : 500;
      const errors = err instanceof VaultApiError ? err.errors : ['internal error'];
      if (!res.headersSent) send(res, status, { errors });
      else res.end();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (!url.pathname.startsWith('/v1/')) return send(res, 404, { errors: [] });
    const path = url.pathname.slice('/v1/'.length).replace(/\/+$/, '');
    const r: Request = { req, res, method, url, path, body: await readBody(req) };
    if (this.unauthenticated(r)) return;
    const token = clientToken(req);
    const caller = token === undefined ? undefined : this.e.store.get(token);
    if (!caller) throw new VaultApiError(403, ['permission denied']);
    this.authenticated(r, caller);
  }

  /** Answers the paths that need no token; false for every other request. Sweeps expired tokens first. */
  private unauthenticated({ req, res, method, path, body }: Request): boolean {
    const { store, wrapping } = this.e;
    if (path === 'sys/health') {
      if (method !== 'GET' && method !== 'HEAD') send(res, 405, { errors: [] });
      else send(res, 200, this.health());
      return true;
    }
    const postOnly = method !== 'POST' && method !== 'PUT';
    if (path === 'sys/wrapping/lookup') {
      // Unauthenticated in Vault: anyone holding a wrapping token may check where it came from.
      if (postOnly) send(res, 405, { errors: ['unsupported operation'] });
      else sendResult(res, wrapping.lookup(stringField(body, 'token') || (clientToken(req) ?? '')));
      return true;
    }
    store.sweep();
    const token = clientToken(req);
    if (path === 'sys/wrapping/unwrap' && token !== undefined && !store.get(token)) {
      // The wrapping token is its own authority to unwrap, once; a used or expired one is a 400 (as
      // Vault answers a second `vault unwrap`), not a 403.
      if (postOnly) send(res, 405, { errors: ['unsupported operation'] });
      else sendResult(res, wrapping.unwrap(token));
      return true;
    }
    return false;
  }

  /** Runs the caller's request if its policies grant the route's capability on the path. */
  private authenticated({ req, res, method, url, path, body }: Request, caller: TokenEntry): void {
    const { store, policies, wrapping } = this.e;
    const wrapHeader = req.headers['x-vault-wrap-ttl'];
    const wrapTtlHeader = Array.isArray(wrapHeader) ? wrapHeader[0] : wrapHeader;
    const route = this.routeFor(path, operation(method, url));
    if (!route) throw new VaultApiError(404, [`no handler for route "${path}". route entry not found.`]);
    if (route === UNSUPPORTED) throw new VaultApiError(405, ['unsupported operation']);
    const granted = policies.capabilities(caller.policies, path);
    if (!granted.has(route.capability)) throw new VaultApiError(403, ['permission denied']);
    const wrapTtlS = wrapTtlHeader
      ? WrappingStore.ttlSeconds(wrapTtlHeader)
      : path === 'sys/wrapping/wrap'
        ? DEFAULT_WRAP_TTL_S
        : undefined;
    store.consumeUse(caller);
    try {
      const result = route.run({
        caller,
        body,
        path,
        sudo: policies.capabilities(caller.policies, path).has('sudo'),
      });
      if (result === null) {
        res.writeHead(204);
        res.end();
        return;
      }
      if (wrapTtlS !== undefined) sendWrapped(res, wrapping.wrap(result, path, wrapTtlS));
      else sendResult(res, result);
    } finally {
      store.finishUse(caller);
    }
  }

  private health() {
    return {
      initialized: true,
      sealed: false,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(this.e.clock.now() / 1000),
      version: VAULT_VERSION,
      cluster_name: 'agov-vault-dev',
      cluster_id: this.e.clusterId,
    };
  }

  private routeFor(path: string, op: Op): RouteLookup {
    const { store, policies, transit } = this.e;
    const route =
      tokenRoute(store, path, op) ?? this.wrappingRoute(path, op) ?? policyRoute(policies, path, op);
    if (route) return route;
    const transitRoute = transit.route(path, op);
    if (transitRoute === UNSUPPORTED) return transitRoute;
    if (transitRoute) return { capability: transitRoute.capability, run: (c) => transitRoute.run(c.body) };
    return undefined;
  }

  private wrappingRoute(path: string, op: Op): RouteLookup {
    const update = (run: Route['run']) => only(op, ['update'], { capability: 'update', run });
    if (path === 'sys/wrapping/wrap') return update((c) => ({ data: { ...c.body } }));
    if (path === 'sys/wrapping/unwrap')
      return update((c) => this.e.wrapping.unwrap(stringField(c.body, 'token')));
    return undefined;
  }
}
