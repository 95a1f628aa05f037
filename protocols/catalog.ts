/**
 * The message catalogue: every message type the bus carries, by versioned name (`<domain>.<name>.v<N>`),
 * with the zod schema of its body. A new version of a message is a new entry (`x.v2`) beside the old one,
 * so old senders keep working while receivers migrate.
 */
import type { z } from 'zod';
import { agentMessages } from './messages/agent.ts';
import { agentEventMessages } from './messages/agent-events.ts';
import { apiMessages } from './messages/api.ts';
import { contextMessages } from './messages/context.ts';
import { controlMessages } from './messages/control.ts';
import { credentialMessages } from './messages/credentials.ts';
import { demoMessages } from './messages/demo.ts';
import { governanceMessages } from './messages/governance.ts';
import { ledgerMessages } from './messages/ledger.ts';
import { runMessages } from './messages/run.ts';
import { supervisorMessages } from './messages/supervisor.ts';
import { systemMessages } from './messages/system.ts';
import { witnessMessages } from './messages/witness.ts';

export const catalog = {
  ...systemMessages,
  ...demoMessages,
  ...agentMessages,
  ...agentEventMessages,
  ...runMessages,
  ...governanceMessages,
  ...supervisorMessages,
  ...ledgerMessages,
  ...witnessMessages,
  ...apiMessages,
  ...contextMessages,
  ...controlMessages,
  ...credentialMessages,
} as const;

export type Catalog = typeof catalog;
export type MessageType = keyof Catalog;
/** A body as received (validated, defaults filled in). */
export type BodyOf<T extends MessageType> = z.output<Catalog[T]>;
/** A body as sent (fields with defaults may be left out). */
export type BodyIn<T extends MessageType> = z.input<Catalog[T]>;

export const MESSAGE_TYPES = Object.keys(catalog) as MessageType[];

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && Object.hasOwn(catalog, value);
}

/**
 * Message types that carry a secret (a Vault token). They go only to one actor's inbox; they are
 * never emitted on the feed, audited, logged, or kept in a dead letter's payload.
 */
export const SECRET_MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'agent.credentials.v1',
  // The wrapping token is a secret until its agent has unwrapped it.
  'agent.credentials.v2',
]);
