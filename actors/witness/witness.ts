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
import {
  formatSignedCheckpoint,
  keyFingerprint,
  loadPublicKey,
  parseSignedCheckpoint,
  publicKeyPem,
  type SignedCheckpoint,
} from '../ledger/index.ts';
import { type ActorContext, defineActorKind } from '../runtime/actor-kind.ts';
import { publishFeedAndAudit } from '../../bus/index.ts';
import { cosign, cosignatureKeyId, formatCosignatureLine } from './cosignature.ts';
import { judgeCheckpoint, proofNeeded, type WitnessVerdict } from './witness-logic.ts';
import { WitnessArgsSchema, type WitnessSettings, witnessSettings } from './witness-options.ts';
import { WitnessStore } from './witness-store.ts';

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

    async function consistencyPath(from: number, to: number): Promise<Buffer[] | string> {
      try {
        const r = await ctx.bus.ask(
          serviceSubject(ACTOR_KIND.ledgerWriter),
          { type: 'ledger.consistency.v1', body: { m: from, n: to } },
          { timeoutMs: settings.proofTimeoutMs },
        );
        if (r.type !== 'ledger.consistency-proof.v1') return `unexpected reply ${r.type}`;
        return r.body.path.map((h) => Buffer.from(h, 'hex'));
      } catch (err) {
        return (err as Error).message;
      }
    }

    async function onCheckpoint(note: string): Promise<void> {
      let sc: SignedCheckpoint;
      try {
        sc = parseSignedCheckpoint(note);
      } catch (err) {
        await alarm(
          {
            kind: 'refuse',
            reason: 'bad-signature',
            detail: `unreadable checkpoint: ${(err as Error).message}`,
          },
          note,
        );
        return;
      }
      const state = store.state(settings.origin);
      const from = proofNeeded(state, sc);
      let path: Buffer[] = [];
      let unproven: string | undefined;
      if (from !== undefined) {
        const got = await consistencyPath(from, sc.size);
        if (typeof got === 'string') unproven = got;
        else path = got;
      }
      const verdict = judgeCheckpoint(state, sc, trusted, path);
      if (verdict.kind === 'seen') return;
      if (unproven !== undefined && verdict.kind === 'refuse' && verdict.reason === 'fork') {
        // No proof to be had (the writer is down, slow or unreachable) is not evidence of a fork:
        // neither cosign nor alarm. A later checkpoint is judged afresh; a writer that never proves
        // anything is never witnessed, which `agov ledger verify --witness` shows. A bad signature,
        // a shrink or a second root for a witnessed size need no proof and still raise the alarm.
        ctx.log.warn('witness: no consistency proof, checkpoint left unjudged', {
          from,
          to: sc.size,
          error: unproven,
        });
        return;
      }
      if (verdict.kind === 'refuse') {
        await alarm(verdict, note);
        return;
      }
      const cs = cosign(sc, ctx.id, privateKey, publicKey, Math.floor(ctx.clock.now() / 1000));
      store.recordCosigned(sc, cs);
      const body = {
        witness: ctx.id,
        origin: sc.origin,
        size: sc.size,
        root: sc.root.toString('hex'),
        keyId: cs.keyId,
        time: cs.time,
        line: formatCosignatureLine(cs),
      };
      ctx.bus.tell(serviceSubject(ACTOR_KIND.ledgerWriter), { type: 'ledger.cosignature.v1', body });
      ctx.bus.emit(['witness', 'cosigned'], { type: 'ledger.cosignature.v1', body });
    }

    async function alarm(v: Extract<WitnessVerdict, { kind: 'refuse' }>, note: string): Promise<void> {
      const ts = ctx.clock.now();
      store.recordAlarm({ ts, reason: v.reason, detail: v.detail, checkpoint: note });
      ctx.log.error('witness: refused a checkpoint', { reason: v.reason, detail: v.detail });
      await publishFeedAndAudit(ctx.bus, ['witness', 'alarm'], 'witness', {
        type: 'witness.alarm.v1',
        body: { witness: ctx.id, reason: v.reason, detail: v.detail, checkpoint: note, ts },
      });
    }

    return {
      accepts: ['ledger.checkpoint.v1', 'witness.status.v1'],
      subscriptions: [{ subject: obsSubject('ledger', 'checkpoint') }],
      async handle(env: Envelope) {
        switch (env.type) {
          case 'ledger.checkpoint.v1':
            await onCheckpoint(env.body.checkpoint);
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
