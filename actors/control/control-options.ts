import { z } from 'zod';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';

/** How long the control actor waits for the service that applies a control. */
export const DEFAULT_CONTROL_ASK_TIMEOUT_MS = 10_000;
/** How long it waits for the audit stream to take the record of a control. */
export const DEFAULT_CONTROL_AUDIT_TIMEOUT_MS = 5_000;
/**
 * How long a control that cannot be undone waits for the checkpoint taken before it; past it (or when no
 * checkpoint actor answers) the control is applied anyway and its audit record says the checkpoint is
 * missing: an operator cancelling a runaway run must not be held up by an outage of context management.
 */
export const DEFAULT_CONTROL_CHECKPOINT_TIMEOUT_MS = 5_000;
/** Whether controls that cannot be undone take a checkpoint (`before-control`) first. */
export const DEFAULT_CHECKPOINT_BEFORE_CONTROLS = true;
/** Audit subject category of operator controls (`gov.audit.control`). */
export const CONTROL_AUDIT_CATEGORY = 'control';

export const ControlArgsSchema = z.object({
  askTimeoutMs: z.number().int().positive().default(DEFAULT_CONTROL_ASK_TIMEOUT_MS),
  auditTimeoutMs: z.number().int().positive().default(DEFAULT_CONTROL_AUDIT_TIMEOUT_MS),
  checkpointBefore: z.boolean().default(DEFAULT_CHECKPOINT_BEFORE_CONTROLS),
  checkpointTimeoutMs: z.number().int().positive().default(DEFAULT_CONTROL_CHECKPOINT_TIMEOUT_MS),
});
export type ControlArgs = z.output<typeof ControlArgsSchema>;

/** Reading a budget is T0; every other control changes state and is T2 (docs/security.md). */
export function requiredTierOf(on: string, command: string): Tier {
  return on === 'budget' && command === 'show' ? 'T0' : 'T2';
}

/**
 * Controls that cannot be undone: a cancelled run is not restarted, a reset budget forgets its counts, a
 * revoked token is dead. Each is applied only after a checkpoint of the fleet (docs/context.md), so what
 * was there before can be read back (`agov checkpoint load`). Everything else a control does can be
 * undone by another control (suspend/resume, promote/demote, pause/resume).
 */
const IRREVERSIBLE: Readonly<Record<string, readonly string[]>> = {
  run: ['cancel'],
  budget: ['reset'],
  token: ['revoke'],
};

export function isIrreversible(on: string, command: string): boolean {
  return IRREVERSIBLE[on]?.includes(command) ?? false;
}
