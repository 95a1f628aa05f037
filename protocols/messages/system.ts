import { z } from 'zod';

/** JSON form of a GovError (see protocols/vocabulary/errors.ts). */
export const SerializedErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
  cause: z.string().optional(),
});

const actorIdentity = {
  actorId: z.string().min(1),
  kind: z.string().min(1),
};

export const ActorExitReason = z.enum(['normal', 'shutdown', 'crash', 'killed', 'hung']);

/** Messages of the actor runtime itself. */
export const systemMessages = {
  'actor.heartbeat.v1': z.object({
    ...actorIdentity,
    seq: z.number().int().nonnegative(),
    pid: z.number().int(),
    host: z.string(),
    uptimeMs: z.number().nonnegative(),
    mailboxDepth: z.number().int().nonnegative(),
    processed: z.number().int().nonnegative(),
    intervalMs: z.number().positive(),
    status: z.record(z.string(), z.unknown()).optional(),
  }),
  'actor.started.v1': z.object({
    ...actorIdentity,
    pid: z.number().int(),
    host: z.string(),
    incarnation: z.string(),
  }),
  'actor.exit.v1': z.object({
    ...actorIdentity,
    pid: z.number().int(),
    incarnation: z.string(),
    reason: ActorExitReason,
    error: SerializedErrorSchema.optional(),
  }),
  /** Ask an actor to stop gracefully (drain its mailbox, then exit with reason `shutdown`). */
  'actor.stop.v1': z.object({ reason: z.string().optional() }),
  'actor.ping.v1': z.object({}),
  'actor.pong.v1': z.object({
    ...actorIdentity,
    pid: z.number().int(),
    processed: z.number().int().nonnegative(),
  }),
  /** Generic acknowledgement reply. */
  'ack.v1': z.object({ ok: z.literal(true), info: z.record(z.string(), z.unknown()).optional() }),
  /** Published on `gov.dlq.<code>` (msgpack, with the bytes) and `gov.obs.dlq.<code>` (JSON, summary only) for anything that could not be decoded, validated or handled. */
  'dead-letter.v1': z.object({
    subject: z.string(),
    receivedBy: z.string(),
    reason: SerializedErrorSchema,
    size: z.number().int().nonnegative(),
    /** The original bytes, base64, cut at 64 KiB; empty for a secret-bearing message and on the feed. */
    payload: z.string(),
    truncated: z.boolean(),
    /**
     * What the bytes were, as far as they could be read: their encoding and the envelope's `type`,
     * `id`, `from` and `run` when present. The JSON feed copy (`gov.obs.dlq.<code>`) carries this
     * instead of the bytes.
     */
    summary: z
      .object({
        format: z.enum(['msgpack', 'json']),
        type: z.string().optional(),
        id: z.string().optional(),
        from: z.string().optional(),
        run: z.string().optional(),
      })
      .optional(),
  }),
} as const;
