/**
 * The witness actor: shown every signed checkpoint the ledger writer publishes (`gov.obs.ledger.checkpoint`),
 * it asks the writer for a consistency proof from the last head it cosigned, decides with
 * {@link judgeCheckpoint}, and
 * - cosigns: records the cosignature in its own store, tells the writer (`ledger.cosignature.v1`, kept
 *   beside the checkpoint for evidence packages) and emits it on the feed (`gov.obs.witness.cosigned`);
 *   cosignatures are not audited, or each would make the next checkpoint;
 * - refuses (fork, shrink, foreign signature): records the alarm, and publishes `witness.alarm.v1` on the
 *   feed (`gov.obs.witness.alarm`) and in the audit stream. It never follows a fork.
 * `witness.status.v1` answers what it holds (its key, its latest or every cosigned head, the alarm count),
 * which `agov ledger verify --witness` and operators read.
 *
 * Its key (Ed25519, `witness-key.pem`, 0600) and store live in its own directory, never the ledger's
 * file; the ledger key it trusts is pinned in its store on first start.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Envelope } from '../../protocols/envelope.ts';
import { ACTOR_KIND, ConfigError, obsSubject, serviceSubject } from '../../protocols/index.ts';
import { formatSignedCheckpoint, keyFingerprint, loadPublicKey, publicKeyPem } from '../ledger/index.ts';
import { type ActorContext, defineActorKind } from '../runtime/actor-kind.ts';
import { cosignatureKeyId, formatCosignatureLine } from './cosignature.ts';
import { WitnessArgsSchema, type WitnessSettings, witnessSettings } from './witness-options.ts';
import { WitnessStore } from './witness-store.ts';
import { CheckpointWitness } from './checkpoint-witness.ts';

function loadOrCreateKey(keyFile: string): { privateKey: KeyObject; publicKey: KeyObject } {
  if (!existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
        mode: 0o600,
        flag: 'wx',
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(keyFile, 0o600);
  const privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The ledger key this witness trusts: pinned in its store on first start; a different configured key is refused. */
function pinnedLedgerKey(store: WitnessStore, settings: WitnessSettings): KeyObject | undefined {
  const configured = settings.ledgerKey ? publicKeyPem(loadPublicKey(settings.ledgerKey)) : undefined;
  const pinned = configured ? store.pinMeta('ledgerKey', configured) : store.meta('ledgerKey');
  if (configured && pinned !== configured) {
    throw new ConfigError(
      `witness store ${settings.storeFile} is pinned to ledger key ${keyFingerprint(loadPublicKey(pinned ?? configured))}, not the configured ${keyFingerprint(loadPublicKey(configured))}`,
      { details: { option: 'ledgerKey' } },
    );
  }
  return pinned ? loadPublicKey(pinned) : undefined;
}

/**
 * Trust on first use, when no key is configured and none is pinned yet: the writer's key, as it
 * answers ledger.key.v1, is pinned in the store; from then on any other key is refused.
 */
async function askLedgerKey(
  ctx: ActorContext,
  settings: WitnessSettings,
  store: WitnessStore,
): Promise<KeyObject> {
  const r = await ctx.bus.ask(
    serviceSubject(ACTOR_KIND.ledgerWriter),
    { type: 'ledger.key.v1', body: {} },
    { timeoutMs: settings.proofTimeoutMs },
  );
  if (r.type !== 'ledger.public-key.v1') {
    throw new ConfigError(`the ledger writer answered ${r.type} to ledger.key.v1`, {
      details: { option: 'ledgerKey' },
    });
  }
  ctx.log.warn("witness: no ledger key configured; pinned the writer's key on first use", {
    fingerprint: r.body.fingerprint,
  });
  return loadPublicKey(store.pinMeta('ledgerKey', publicKeyPem(loadPublicKey(r.body.publicKey))));
}

export const witnessKind = defineActorKind({
  kind: ACTOR_KIND.witness,
  args: WitnessArgsSchema,
  description:
    'cosigns ledger checkpoints that extend what it saw (own key, own store); alarms on forks and shrinks',
  async start(ctx) {
    const settings = witnessSettings(ctx.args, ctx.id);
    mkdirSync(settings.dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = loadOrCreateKey(settings.keyFile);
    const store = WitnessStore.open(settings.storeFile, {
      witness: ctx.id,
      origin: settings.origin,
      publicKeyPem: publicKeyPem(publicKey),
    });
    let ledgerKey: KeyObject | undefined;
    try {
      ledgerKey = pinnedLedgerKey(store, settings) ?? (await askLedgerKey(ctx, settings, store));
    } catch (err) {
      store.close();
      throw err;
    }
    const trusted = ledgerKey;

    const witness = new CheckpointWitness({
      ctx,
      settings,
      store,
      keys: { privateKey, publicKey },
      trusted,
    });

    return {
      accepts: ['ledger.checkpoint.v1', 'witness.status.v1'],
      subscriptions: [{ subject: obsSubject('ledger', 'checkpoint') }],
      async handle(env: Envelope) {
        switch (env.type) {
          case 'ledger.checkpoint.v1':
            await witness.onCheckpoint(env.body.checkpoint);
            return undefined;
          case 'witness.status.v1': {
            const held = env.body.all ? store.all() : [store.latest()].filter((w) => w !== undefined);
            return {
              type: 'witness.state.v1',
              body: {
                witness: ctx.id,
                origin: settings.origin,
                publicKey: publicKeyPem(publicKey),
                keyId: cosignatureKeyId(ctx.id, publicKey),
                ledgerKeyFingerprint: keyFingerprint(trusted),
                size: store.state(settings.origin).size,
                alarms: store.alarms().length,
                checkpoints: held.map((w) => ({
                  checkpoint: formatSignedCheckpoint(w.checkpoint),
                  cosignature: formatCosignatureLine(w.cosignature),
                })),
              },
            };
          }
          default:
            return undefined;
        }
      },
      status: () => ({ size: store.state(settings.origin).size }),
      stop: () => store.close(),
    };
  },
});
