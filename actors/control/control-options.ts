import { z } from 'zod';
import type { Tier } from '../../protocols/vocabulary/tiers.ts';

/** How long the control actor waits for the service that applies a control. */
export const DEFAULT_CONTROL_ASK_TIMEOUT_MS = 10_000;
/** How long it waits for the audit stream to take the record of a control. */
export const DEFAULT_CONTROL_AUDIT_TIMEOUT_MS = 5_000;
/** Audit subject category of operator controls (`gov.audit.control`). */
export const CONTROL_AUDIT_CATEGORY = 'control';

export const ControlArgsSchema = z.object({
  askTimeoutMs: z.number().int().positive().default(DEFAULT_CONTROL_ASK_TIMEOUT_MS),
  auditTimeoutMs: z.number().int().positive().default(DEFAULT_CONTROL_AUDIT_TIMEOUT_MS),
});
export type ControlArgs = z.output<typeof ControlArgsSchema>;

/** Reading a budget is T0; every other control changes state and is T2 (docs/security.md). */
export function requiredTierOf(on: string, command: string): Tier {
  return on === 'budget' && command === 'show' ? 'T0' : 'T2';
}
