import { z } from 'zod';

/** Messages of the demo/test actors (echo, counter) used by the quick start, tests and benches. */
export const demoMessages = {
  'demo.echo.v1': z.object({ text: z.string(), seq: z.number().int().optional() }),
  'demo.echoed.v1': z.object({ text: z.string(), seq: z.number().int().optional(), by: z.string() }),
  /** Asks the actor to sleep ms before replying (timeouts). */
  'demo.slow.v1': z.object({ ms: z.number().int().nonnegative() }),
  /** Makes the actor's handler throw (crash semantics). */
  'demo.crash.v1': z.object({ message: z.string().optional() }),
  'demo.count.v1': z.object({ seq: z.number().int() }),
  'demo.get-count.v1': z.object({}),
  'demo.counted.v1': z.object({
    count: z.number().int(),
    inOrder: z.boolean(),
    maxConcurrent: z.number().int(),
  }),
} as const;
