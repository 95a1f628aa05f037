/**
 * The credentials the authority issued: public key → principal, JWT expiry, whether revoked. Kept in a
 * JetStream KV bucket (public facts only, never a seed) so a restarted authority can still renew and
 * revoke what it issued before.
 */
import { StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Bus } from '../../bus/bus.ts';
import type { Principal } from '../../protocols/permissions.ts';
import { CREDENTIALS_BUCKET } from './credential-options.ts';

export interface Issued {
  publicKey: string;
  name: string;
  principal: Principal;
  expiresAtMs: number;
  /** An external agent's enrolment: its holder is not on the bus to take renewals. */
  enrolled: boolean;
  revoked?: boolean;
}

export class CredentialRegistry {
  private constructor(
    private readonly kv: KV,
    private readonly byKey: Map<string, Issued>,
  ) {}

  static async open(bus: Bus): Promise<CredentialRegistry> {
    const kv = await bus.keyValue(CREDENTIALS_BUCKET, { history: 1, storage: StorageType.File });
    const byKey = new Map<string, Issued>();
    for await (const k of await kv.keys()) {
      const e = await kv.get(k);
      if (e?.operation === 'PUT' && e.value.length > 0) byKey.set(k, JSON.parse(e.string()) as Issued);
    }
    return new CredentialRegistry(kv, byKey);
  }

  async put(issued: Issued): Promise<void> {
    this.byKey.set(issued.publicKey, issued);
    await this.kv.put(issued.publicKey, JSON.stringify(issued));
  }

  async drop(publicKey: string): Promise<void> {
    this.byKey.delete(publicKey);
    await this.kv.delete(publicKey);
  }

  /** The live (not revoked, not expired) credentials of an agent. */
  ofAgent(agentId: string, nowMs: number): Issued[] {
    return [...this.byKey.values()].filter(
      (i) =>
        i.principal.role === 'agent' && i.principal.id === agentId && !i.revoked && i.expiresAtMs > nowMs,
    );
  }

  /** Live credentials of holders on the bus with less than `withinMs` left. */
  dueForRenewal(nowMs: number, withinMs: number): Issued[] {
    return [...this.byKey.values()].filter(
      (i) => !i.enrolled && !i.revoked && i.expiresAtMs > nowMs && i.expiresAtMs - nowMs < withinMs,
    );
  }

  /** Entries whose JWT has expired: nothing left to renew or revoke. */
  expired(nowMs: number): Issued[] {
    return [...this.byKey.values()].filter((i) => i.expiresAtMs <= nowMs);
  }
}
