import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from './clock.ts';
import { type Capability, PolicyParseError, PolicyStore } from './vault/acl.ts';
import {
  type StoreResult,
  type TokenEntry,
  TokenStore,
  VaultApiError,
  randomId,
} from './vault/token-store.ts';
import { TransitEngine } from './vault/transit.ts';
import { DEFAULT_WRAP_TTL_S, type WrapInfo, WrappingStore } from './vault/wrapping.ts';

/**
 * A Vault-API-compatible development server for the token auth method (`/v1/auth/token/*`),
 * a minimal ACL policy store (`/v1/sys/policy/*`, `/v1/sys/policies/acl/*`), the transit engine for Ed25519
 * signing keys (`/v1/transit/*`, see vault/transit.ts), response wrapping (`/v1/sys/wrapping/*` and the
 * `X-Vault-Wrap-TTL` header on any request, see vault/wrapping.ts) and `/v1/sys/health`.
 *
 * Like `vault server -dev`, everything lives in memory: stopping the server loses every token.
 * Time comes from the injected Clock, so a ManualClock can expire a 2 h token instantly.
 * See docs/vault.md for the endpoints, shapes and the deviations from a real Vault.
 */

export interface VaultDevServerOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** The root token's ID; random (`hvs.…`) when omitted. */
  rootToken?: string;
  clock?: Clock;
  /**
   * Where the transit engine keeps its keyring (0600). Without it transit keys live in memory and a
   * restart makes new ones. Keep it outside the system's data directory: it holds signing keys.
   */
  transitKeyringFile?: string;
}

export interface VaultDevServer {
  /** Base address, e.g. `http://127.0.0.1:41234` (what VAULT_ADDR would hold). */
  readonly addr: string;
  readonly port: number;
  readonly rootToken: string;
  /** Closes the listener and open connections; all tokens are lost. */
  stop(): Promise<void>;
}

const VAULT_VERSION = '1.15.0+agov-dev';
const MAX_BODY_BYTES = 1024 * 1024;

export async function startVaultDevServer(options: VaultDevServerOptions = {}): Promise<VaultDevServer> {
  const clock = options.clock ?? systemClock;
  const rootToken = options.rootToken ?? `hvs.${randomId(24)}`;
  const policies = new PolicyStore();
  const store = new TokenStore(clock, policies);
  store.addRootToken(rootToken);
  const clusterId = randomUUID();
  const transit = new TransitEngine({ clock, keyringFile: options.transitKeyringFile });
  const wrapping = new WrappingStore(clock);

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof VaultApiError ? err.status : 500;
      const errors = err instanceof VaultApiError ? err.errors : ['internal error'];
      if (!res.headersSent) send(res, status, { errors });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (!url.pathname.startsWith('/v1/')) return send(res, 404, { errors: [] });
    const path = url.pathname.slice('/v1/'.length).replace(/\/+$/, '');
    const body = await readBody(req);

    if (path === 'sys/health') {
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { errors: [] });
      const now = clock.now();
      return send(res, 200, {
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(now / 1000),
        version: VAULT_VERSION,
        cluster_name: 'agov-vault-dev',
        cluster_id: clusterId,
      });
    }

    if (path === 'sys/wrapping/lookup') {
      // Unauthenticated in Vault: anyone holding a wrapping token may check where it came from.
      if (method !== 'POST' && method !== 'PUT') return send(res, 405, { errors: ['unsupported operation'] });
      return sendResult(res, wrapping.lookup(stringField(body, 'token') || (clientToken(req) ?? '')));
    }
    store.sweep();
    const token = clientToken(req);
    if (path === 'sys/wrapping/unwrap' && token !== undefined && !store.get(token)) {
      // The wrapping token is its own authority to unwrap, once; a used or expired one is a 400 (as
      // Vault answers a second `vault unwrap`), not a 403.
      if (method !== 'POST' && method !== 'PUT') return send(res, 405, { errors: ['unsupported operation'] });
      return sendResult(res, wrapping.unwrap(token));
    }
    const wrapHeader = req.headers['x-vault-wrap-ttl'];
    const wrapTtlHeader = Array.isArray(wrapHeader) ? wrapHeader[0] : wrapHeader;
    const caller = token === undefined ? undefined : store.get(token);
    if (!caller) throw new VaultApiError(403, ['permission denied']);

    const op = operation(method, url);
    const route = routeFor(path, op);
    if (!route) throw new VaultApiError(404, [`no handler for route "${path}". route entry not found.`]);
    if (route === 'unsupported-operation') throw new VaultApiError(405, ['unsupported operation']);
    if (!policies.capabilities(caller.policies, path).has(route.capability)) {
      throw new VaultApiError(403, ['permission denied']);
    }
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
      if (wrapTtlS !== undefined) return sendWrapped(res, wrapping.wrap(result, path, wrapTtlS));
      sendResult(res, result);
    } finally {
      store.finishUse(caller);
    }
  }

  interface RouteContext {
    caller: TokenEntry;
    body: Record<string, unknown>;
    path: string;
    sudo: boolean;
  }
  interface Route {
    capability: Capability;
    run(ctx: RouteContext): StoreResult | null;
  }
  type Op = 'read' | 'update' | 'delete' | 'list';

  function routeFor(path: string, op: Op): Route | 'unsupported-operation' | undefined {
    const only = (allowed: Op[], route: Route) => (allowed.includes(op) ? route : 'unsupported-operation');
    const update = (run: Route['run']) => only(['update'], { capability: 'update', run });
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
        return only(['read', 'update'], {
          capability: op === 'read' ? 'read' : 'update',
          run: (c) => {
            const id = stringField(c.body, 'token') || c.caller.id;
            const te = store.get(id);
            if (!te) throw new VaultApiError(403, ['bad token']);
            return { data: store.lookupData(te) };
          },
        });
      case 'auth/token/lookup-self':
        return only(['read', 'update'], {
          capability: op === 'read' ? 'read' : 'update',
          run: (c) => ({ data: store.lookupData(c.caller) }),
        });
      case 'auth/token/lookup-accessor':
        return update((c) => {
          const te = byAccessor(c.body);
          return { data: { ...store.lookupData(te), id: '' } };
        });
      case 'auth/token/renew':
        return update((c) => {
          const id = stringField(c.body, 'token');
          if (!id) throw new VaultApiError(400, ['missing token ID']);
          const te = store.get(id);
          if (!te) throw new VaultApiError(400, ['token not found']);
          return store.renew(te, c.body.increment, te.id);
        });
      case 'auth/token/renew-self':
        return update((c) => store.renew(c.caller, c.body.increment, c.caller.id));
      case 'auth/token/renew-accessor':
        return update((c) => store.renew(byAccessor(c.body), c.body.increment, ''));
      case 'auth/token/revoke':
        return update((c) => {
          const id = stringField(c.body, 'token');
          if (!id) throw new VaultApiError(400, ['missing token ID']);
          store.revokeTree(id);
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
          const id = stringField(c.body, 'token');
          if (!id) throw new VaultApiError(400, ['missing token ID']);
          if (!c.sudo)
            throw new VaultApiError(400, ['root or sudo privileges required to revoke and orphan']);
          if (!store.get(id)) throw new VaultApiError(400, ['token to revoke not found']);
          store.revokeOrphan(id);
          return null;
        });
      case 'auth/token/accessors':
        return only(['list'], {
          capability: 'list',
          run: (c) => {
            if (!c.sudo) throw new VaultApiError(403, ['permission denied']);
            return { data: { keys: store.accessors() } };
          },
        });
      case 'sys/wrapping/wrap':
        return update((c) => ({ data: { ...c.body } }));
      case 'sys/wrapping/unwrap':
        return update((c) => wrapping.unwrap(stringField(c.body, 'token')));
      case 'sys/policy':
      case 'sys/policies/acl':
        return only(['read', 'list'], {
          capability: op === 'list' ? 'list' : 'read',
          run: () => ({ data: { keys: policies.names(), policies: policies.names() } }),
        });
      default:
        break;
    }
    const transitRoute = transit.route(path, op);
    if (transitRoute === 'unsupported-operation') return transitRoute;
    if (transitRoute) return { capability: transitRoute.capability, run: (c) => transitRoute.run(c.body) };
    const policyPath = /^sys\/(?:policy|policies\/acl)\/([^/]+)$/.exec(path);
    if (policyPath)
      return policyRoute(
        decodeURIComponent(policyPath[1] ?? '').toLowerCase(),
        op,
        path.startsWith('sys/policy/'),
      );
    return undefined;
  }

  function policyRoute(name: string, op: Op, legacy: boolean): Route | 'unsupported-operation' {
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
        return 'unsupported-operation';
    }
  }

  function byAccessor(body: Record<string, unknown>): TokenEntry {
    const accessor = stringField(body, 'accessor');
    if (!accessor) throw new VaultApiError(400, ['missing accessor']);
    const te = store.getByAccessor(accessor);
    if (!te) throw new VaultApiError(400, ['invalid accessor']);
    return te;
  }

  function sendResult(res: ServerResponse, result: StoreResult): void {
    send(res, 200, {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: result.data ?? null,
      wrap_info: null,
      warnings: result.warnings && result.warnings.length > 0 ? result.warnings : null,
      auth: result.auth ?? null,
      mount_type: 'token',
    });
  }

  function sendWrapped(res: ServerResponse, wrapInfo: WrapInfo): void {
    send(res, 200, {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: wrapInfo,
      warnings: null,
      auth: null,
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    addr: `http://127.0.0.1:${port}`,
    port,
    rootToken,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

function clientToken(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct) return direct;
  const authz = req.headers.authorization;
  if (authz?.startsWith('Bearer ')) return authz.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

function operation(method: string, url: URL): 'read' | 'update' | 'delete' | 'list' {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return url.searchParams.get('list') === 'true' || url.searchParams.get('list') === '1'
        ? 'list'
        : 'read';
    case 'LIST':
      return 'list';
    case 'DELETE':
      return 'delete';
    default:
      return 'update';
  }
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new VaultApiError(413, ['request body too large']);
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VaultApiError(400, [`failed to parse JSON input: ${(err as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VaultApiError(400, ['failed to parse JSON input: body must be a JSON object']);
  }
  return parsed as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  throw new VaultApiError(400, [`error converting input for field "${key}": expected a string`]);
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
