/**
 * What the witness does with one signed checkpoint (witness.ts): asks the writer for a consistency
 * proof from the last head it cosigned, judges with {@link judgeCheckpoint}, then cosigns (stored,
 * told to the writer, on the feed) or raises the alarm (stored, on the feed, audited). A checkpoint
 * whose proof cannot be had is left unjudged, unless it needs no proof to be refused.
 */
import type { KeyObject } from 'node:crypto';
import { publishFeedAndAudit } from '../../bus/index.ts';
import { ACTOR_KIND, serviceSubject } from '../../protocols/index.ts';
import { parseSignedCheckpoint, type SignedCheckpoint } from '../ledger/index.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import { cosign, formatCosignatureLine } from './cosignature.ts';
import { judgeCheckpoint, proofNeeded, type WitnessVerdict } from './witness-logic.ts';
import type { WitnessSettings } from './witness-options.ts';
import type { WitnessStore } from './witness-store.ts';

export interface CheckpointWitnessDeps {
  ctx: Pick<ActorContext, 'id' | 'bus' | 'clock' | 'log'>;
  settings: WitnessSettings;
  store: WitnessStore;
  keys: { privateKey: KeyObject; publicKey: KeyObject };
  /** The ledger key the witness trusts. */
  trusted: KeyObject;
}

export class CheckpointWitness {
  constructor(private readonly deps: CheckpointWitnessDeps) {}

  private async consistencyPath(from: number, to: number): Promise<Buffer[] | string> {
    try {
      const r = await this.deps.ctx.bus.ask(
        serviceSubject(ACTOR_KIND.ledgerWriter),
        { type: 'ledger.consistency.v1', body: { m: from, n: to } },
        { timeoutMs: this.deps.settings.proofTimeoutMs },
      );
      if (r.type !== 'ledger.consistency-proof.v1') return `unexpected reply ${r.type}`;
      return r.body.path.map((h) => Buffer.from(h, 'hex'));
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Judges one checkpoint note and cosigns it or raises the alarm. */
  async onCheckpoint(note: string): Promise<void> {
    let sc: SignedCheckpoint;
    try {
      sc = parseSignedCheckpoint(note);
    } catch (err) {
      await this.alarm(
        {
          kind: 'refuse',
          reason: 'bad-signature',
          detail: `unreadable checkpoint: ${(err as Error).message}`,
        },
        note,
      );
      return;
    }
    const state = this.deps.store.state(this.deps.settings.origin);
    const from = proofNeeded(state, sc);
    let path: Buffer[] = [];
    let unproven: string | undefined;
    if (from !== undefined) {
      const got = await this.consistencyPath(from, sc.size);
      if (typeof got === 'string') unproven = got;
      else path = got;
    }
    const verdict = judgeCheckpoint(state, sc, this.deps.trusted, path);
    if (verdict.kind === 'seen') return;
    if (unproven !== undefined && verdict.kind === 'refuse' && verdict.reason === 'fork') {
      // No proof to be had (the writer is down, slow or unreachable) is not evidence of a fork:
      // neither cosign nor alarm. A later checkpoint is judged afresh; a writer that never proves
      // anything is never witnessed, which `agov ledger verify --witness` shows. A bad signature,
      // a shrink or a second root for a witnessed size need no proof and still raise the alarm.
      this.deps.ctx.log.warn('witness: no consistency proof, checkpoint left unjudged', {
        from,
        to: sc.size,
        error: unproven,
      });
      return;
    }
    if (verdict.kind === 'refuse') {
      await this.alarm(verdict, note);
      return;
    }
    const cs = cosign(
      sc,
      this.deps.ctx.id,
      this.deps.keys.privateKey,
      this.deps.keys.publicKey,
      Math.floor(this.deps.ctx.clock.now() / 1000),
    );
    this.deps.store.recordCosigned(sc, cs);
    const body = {
      witness: this.deps.ctx.id,
      origin: sc.origin,
      size: sc.size,
      root: sc.root.toString('hex'),
      keyId: cs.keyId,
      time: cs.time,
      line: formatCosignatureLine(cs),
    };
    this.deps.ctx.bus.tell(serviceSubject(ACTOR_KIND.ledgerWriter), { type: 'ledger.cosignature.v1', body });
    this.deps.ctx.bus.emit(['witness', 'cosigned'], { type: 'ledger.cosignature.v1', body });
  }

  private async alarm(v: Extract<WitnessVerdict, { kind: 'refuse' }>, note: string): Promise<void> {
    const ts = this.deps.ctx.clock.now();
    this.deps.store.recordAlarm({ ts, reason: v.reason, detail: v.detail, checkpoint: note });
    this.deps.ctx.log.error('witness: refused a checkpoint', { reason: v.reason, detail: v.detail });
    await publishFeedAndAudit(this.deps.ctx.bus, ['witness', 'alarm'], 'witness', {
      type: 'witness.alarm.v1',
      body: { witness: this.deps.ctx.id, reason: v.reason, detail: v.detail, checkpoint: note, ts },
    });
  }
}
