/**
 * The ledger writer's answers to queries (inbox or `gov.svc.ledger-writer`): ledger.query.v1 →
 * ledger.entries.v1, ledger.prove.v1 → ledger.inclusion.v1, ledger.consistency.v1 →
 * ledger.consistency-proof.v1, ledger.verify.v1 → ledger.verification.v1, ledger.head.v1 →
 * ledger.checkpoint.v1, ledger.key.v1 → ledger.public-key.v1; ledger.cosignature.v1 keeps a witness's line.
 */
import type { Envelope, OutMessage } from '../../protocols/index.ts';
import { ConfigError, NotFoundError } from '../../protocols/index.ts';
import { evidenceToSign } from './evidence.ts';
import { publicKeyPem, type RemoteCheckpointSigner, type SignedCheckpoint } from './checkpoint.ts';
import { entryView } from './ledger-entry.ts';
import type { LedgerStore } from './ledger-store.ts';
import type { LedgerWriterSettings } from './ledger-writer-options.ts';
import { checkpointMessage } from './ledger-writer-signer.ts';
import { proveConsistency, proveInclusion } from './prove.ts';
import { verifyLedger } from './verify.ts';

export const LEDGER_WRITER_ACCEPTS = [
  'ledger.query.v1',
  'ledger.prove.v1',
  'ledger.consistency.v1',
  'ledger.verify.v1',
  'ledger.head.v1',
  'ledger.cosignature.v1',
  'ledger.key.v1',
  'ledger.evidence-sign.v1',
] as const;

export interface AnswerDeps {
  store: LedgerStore;
  signer: RemoteCheckpointSigner;
  settings: LedgerWriterSettings;
  fingerprint: string;
  /** The latest checkpoint, signing the current head first when the tree has grown past it. */
  checkpointIfGrown(): Promise<SignedCheckpoint | undefined>;
}

/** The answer to one query (undefined for a tell that needs none). Throws typed errors to refuse. */
export function ledgerAnswers(d: AnswerDeps): (env: Envelope) => Promise<OutMessage | undefined> {
  const { store, signer, settings, fingerprint } = d;
  const limitOf = (asked: number | undefined) =>
    Math.min(asked ?? settings.maxQueryEntries, settings.maxQueryEntries);

  return async (env) => {
    switch (env.type) {
      case 'ledger.query.v1': {
        const { limit, ...filters } = env.body;
        const n = limitOf(limit);
        const rows = store.query({ ...filters, limit: n + 1 });
        return {
          type: 'ledger.entries.v1',
          body: {
            entries: rows.slice(0, n).map((e) => entryView(e)),
            size: store.size,
            more: rows.length > n,
          },
        };
      }
      case 'ledger.prove.v1': {
        const { seq } = env.body;
        if (seq >= store.size)
          throw new NotFoundError(`ledger has no entry at seq ${seq} (size ${store.size})`);
        if (!store.checkpointCovering(seq)) await d.checkpointIfGrown();
        const proof = proveInclusion(store, seq);
        return {
          type: 'ledger.inclusion.v1',
          body: { ...proof, body: store.entry(seq)!.body.toString('utf8') },
        };
      }
      case 'ledger.cosignature.v1':
        store.addCosignature(env.body.size, env.body.witness, env.body.line);
        return undefined;
      case 'ledger.consistency.v1':
        return { type: 'ledger.consistency-proof.v1', body: proveConsistency(store, env.body.m, env.body.n) };
      case 'ledger.verify.v1':
        return { type: 'ledger.verification.v1', body: verifyLedger(store, signer.publicKey) };
      case 'ledger.head.v1': {
        const cp = env.body.fresh ? await d.checkpointIfGrown() : store.latestCheckpoint();
        if (!cp)
          throw new NotFoundError(
            'the ledger has no signed checkpoint yet (ask with fresh: true to sign one)',
          );
        return checkpointMessage(cp, store.size, {
          keyFingerprint: fingerprint,
          cosignatures: store.cosignaturesAt(cp.size).map((c) => c.line),
        });
      }
      case 'ledger.evidence-sign.v1': {
        if (!signer.signText) throw new ConfigError('this ledger signer cannot sign evidence statements');
        const statement = evidenceToSign(store, signer.publicKey, env.body.manifest, env.body.handoff);
        const signature = await signer.signText(statement);
        return {
          type: 'ledger.evidence-signature.v1',
          body: { statement, signature: signature.toString('base64'), keyFingerprint: fingerprint },
        };
      }
      case 'ledger.key.v1':
        return {
          type: 'ledger.public-key.v1',
          body: {
            origin: settings.origin,
            publicKey: publicKeyPem(signer.publicKey),
            fingerprint,
            keyId: signer.keyId,
            signer: settings.signer,
          },
        };
      default:
        return undefined;
    }
  };
}
