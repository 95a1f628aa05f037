/**
 * What the Vault token client remembers of the tokens it issued, so it can tell a revoked token from
 * an expired one when Vault only says "gone": each accessor's estimated expiry, whether this client
 * revoked it (or an ancestor), its parent and children. No plain token is kept: a SHA-256 of each
 * maps it to its accessor, for calls made with the token itself. Bounded: the oldest entries go first.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../infra/index.ts';

interface Memory {
  expiresAtMs: number | undefined;
  revokedByUs: boolean;
  parent: string | undefined;
  children: Set<string>;
}

export class TokenMemory {
  private readonly memory = new Map<string, Memory>();
  private readonly accessorByTokenHash = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries: number,
  ) {}

  /** Whether the accessor is one this client issued (and still remembers). */
  has(accessor: string): boolean {
    return this.memory.has(accessor);
  }

  remember(
    accessor: string,
    token: string,
    m: { expiresAtMs: number | undefined; parent: string | undefined },
  ): void {
    this.memory.set(accessor, { ...m, revokedByUs: false, children: new Set() });
    this.accessorByTokenHash.set(hashToken(token), accessor);
    if (m.parent !== undefined) this.memory.get(m.parent)?.children.add(accessor);
    while (this.memory.size > this.maxEntries) {
      const oldest = this.memory.keys().next().value as string;
      this.memory.delete(oldest);
    }
    while (this.accessorByTokenHash.size > this.maxEntries) {
      const oldest = this.accessorByTokenHash.keys().next().value as string;
      this.accessorByTokenHash.delete(oldest);
    }
  }

  /** A fresh TTL seen in an answer sent at `sentAt` moves the token's estimated expiry. */
  noteTtl(accessor: string, sentAt: number, ttlS: number): void {
    const m = this.memory.get(accessor);
    if (m && ttlS > 0) m.expiresAtMs = sentAt + ttlS * 1000;
  }

  /** The token and every descendant this client knows of are revoked. */
  markRevoked(accessor: string): void {
    const m = this.memory.get(accessor);
    if (!m) return;
    m.revokedByUs = true;
    for (const child of m.children) this.markRevoked(child);
  }

  accessorOf(token: string): string | undefined {
    return this.accessorByTokenHash.get(hashToken(token));
  }

  /** Why a token (or an ancestor) is gone, as far as this client knows: revoked by it, expired, or unknown. */
  knownGone(accessor: string): 'revoked' | 'expired' | undefined {
    const now = this.clock.now();
    let expired = false;
    const seen = new Set<string>();
    for (
      let a: string | undefined = accessor;
      a !== undefined && !seen.has(a);
      a = this.memory.get(a)?.parent
    ) {
      seen.add(a);
      const m = this.memory.get(a);
      if (!m) break;
      if (m.revokedByUs) return 'revoked';
      if (m.expiresAtMs !== undefined && m.expiresAtMs <= now) expired = true;
    }
    return expired ? 'expired' : undefined;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
