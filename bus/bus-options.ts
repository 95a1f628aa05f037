import { DEFAULT_MAX_PAYLOAD_BYTES } from '../protocols/codec.ts';
import type { Clock } from '../infra/clock/clock.ts';

export { DEFAULT_MAX_PAYLOAD_BYTES };
/** How long `ask` waits for a reply. */
export const DEFAULT_ASK_TIMEOUT_MS = 5_000;
/** How often overdue asks are failed as timed out: an ask times out up to this much after its limit. */
export const DEFAULT_ASK_SWEEP_MS = 50;
/** Base wait between reconnect attempts (nats.js adds jitter); attempts never stop. */
export const DEFAULT_RECONNECT_WAIT_MS = 250;
export const DEFAULT_RECONNECT_JITTER_MS = 100;
/** Client ping interval: how soon a dead server is noticed. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
/** How much of an undecodable payload a dead letter keeps. */
export const DEFAULT_DEAD_LETTER_MAX_BYTES = 64 * 1024;

/** Credentials of one actor. Each actor connects as itself so the broker can enforce per-tier permissions. */
export type BusCredentials =
  | { kind: 'none' }
  | { kind: 'user-password'; user: string; pass: string }
  | { kind: 'token'; token: string }
  /** NATS decentralized auth: user JWT + nkey seed (the contents of a .creds file). */
  | { kind: 'jwt'; jwt: string; seed: string };

export interface BusOptions {
  /** nats://host:port, or several comma-separated. */
  servers: string;
  /** Address used as `from` in envelopes; an actor's inbox subject or a client name. */
  name: string;
  credentials?: BusCredentials;
  maxPayloadBytes?: number;
  askTimeoutMs?: number;
  reconnectWaitMs?: number;
  clock?: Clock;
}
