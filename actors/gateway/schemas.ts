/** zod schemas shared by the routes: request fields, the error body, and the response shapes. */
import { z } from 'zod';
import { ERROR_CODES } from '../../protocols/index.ts';

/** A run id as the bus accepts it in subjects: 1-128 letters, digits, `_` or `-`. */
export const RunIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 letters, digits, '_' or '-'")
  .describe('Pipeline run id (PIPELINE_ID)');

/** An agent or report id (same rule: they appear in subjects). */
export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 letters, digits, '_' or '-'");

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      retryable: z.boolean(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .describe('Every error answer (docs/errors.md lists the codes)');
