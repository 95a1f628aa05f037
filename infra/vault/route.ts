/**
 * A route of the Vault dev server: the capability a policy must grant on the path, and what runs.
 * `null` from `run` is Vault's 204 No Content.
 */
import type { Capability } from './acl.ts';
import type { StoreResult, TokenEntry } from './token-store.ts';

/** The operation an HTTP method stands for (GET with `?list=true` and LIST are `list`). */
export type Op = 'read' | 'update' | 'delete' | 'list';

export interface RouteContext {
  caller: TokenEntry;
  body: Record<string, unknown>;
  path: string;
  sudo: boolean;
}

export interface Route {
  capability: Capability;
  run(ctx: RouteContext): StoreResult | null;
}

/** A known path the operation does not apply to (Vault's 405). */
export const UNSUPPORTED = 'unsupported-operation';
export type RouteLookup = Route | typeof UNSUPPORTED | undefined;

/** `route` when `op` is one of `allowed`, else unsupported. */
export function only(op: Op, allowed: Op[], route: Route): Route | typeof UNSUPPORTED {
  return allowed.includes(op) ? route : UNSUPPORTED;
}
