import { z } from 'zod';
import { TierSchema } from './agent.ts';

/**
 * The credential authority (actors/credentials, docs/security.md "Credential lifecycle"). No secret
 * travels: whoever needs a credential makes its own nkey pair and sends the public key; the authority
 * answers with a user JWT for that key (public: useless without the seed). Asked on
 * `gov.svc.credential-authority`, which only system credentials (supervisors, the operator's client)
 * may publish to; the renewal and rekey messages reach a holder on its own inbox.
 */
const id = z.string().min(1).max(128);
/** An nkey user public key (`U…`, 56 base32 characters). */
const userKey = z.string().regex(/^U[A-Z2-7]{55}$/, 'an nkey user public key');

export const CredentialPrincipalSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('agent'), id, tier: TierSchema }),
  z.object({ role: z.literal('actor'), kind: id, id }),
  z.object({ role: z.literal('observer'), name: id }),
  z.object({ role: z.literal('client'), name: id }),
]);

export const credentialMessages = {
  /** Sign a user JWT for `publicKey` with `principal`'s grants. Reply credentials.minted.v1. */
  'credentials.mint.v1': z.object({
    principal: CredentialPrincipalSchema,
    publicKey: userKey,
    ttlMs: z.number().int().positive().optional(),
    /** An external agent's enrolment (`agov agent enroll`): kept across restarts, never renewed. */
    enrolled: z.boolean().default(false),
  }),
  'credentials.minted.v1': z.object({ name: z.string(), jwt: z.string(), expiresAtMs: z.number() }),
  /** Revoke every credential of an agent now. Reply credentials.revoked.v1. */
  'credentials.revoke.v1': z.object({ agentId: id, reason: z.string().max(1024).optional() }),
  'credentials.revoked.v1': z.object({
    agentId: id,
    keys: z.number().int(),
    reason: z.string(),
    /** From the decision to the server's acknowledgement of the account update, ms. */
    tookMs: z.number().optional(),
  }),
  /**
   * To a holder (its inbox): make a new key pair for a credential of `tier` and answer with its public
   * key (credentials.public-key.v1); the seed never leaves the holder.
   */
  'credentials.rekey.v1': z.object({ tier: TierSchema }),
  'credentials.public-key.v1': z.object({ publicKey: userKey }),
  /**
   * To a holder (its inbox): a JWT for its current key (renewal) or the key it just made (rekey). The
   * holder uses it from its next (re)connect; after a rekey it reconnects at once.
   */
  'credentials.renewed.v1': z.object({ jwt: z.string(), expiresAtMs: z.number() }),
  /** Feed `gov.obs.credentials.<event>` and audit `gov.audit.credentials`: one lifecycle step. */
  'credentials.event.v1': z.object({
    event: z.enum(['minted', 'renewed', 'reissued', 'revoked', 'refused']),
    name: z.string(),
    publicKey: z.string().optional(),
    tier: TierSchema.optional(),
    reason: z.string().optional(),
    expiresAtMs: z.number().optional(),
  }),
} as const;
