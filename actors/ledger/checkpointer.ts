/**
 * When and how the ledger writer signs its tree head. The private key is elsewhere (Vault transit, or
 * a local key behind the same interface), so signing is a request: it happens outside the store's
 * transactions, one at a time, and only for entries already on disk — a signed head must never cover an
 * entry a power loss could undo.
 *
 * A head is signed when the tree has grown and (a) `everyEntries` entries accumulated since the last
 * checkpoint ({@link afterAppend}), (b) the writer's timer fires (at least every `intervalMs` while
 * events flow, so the unsigned window is bounded), or (c) someone needs one now (a proof, `fresh: true`,
 * a graceful stop: {@link ifGrown}).
 */
import type { RemoteCheckpointSigner, SignedCheckpoint } from './checkpoint.ts';
import type { LedgerStore } from './ledger-store.ts';

export class Checkpointer {
  private inFlight: Promise<SignedCheckpoint | undefined> | undefined;

  constructor(
    private readonly store: LedgerStore,
    private readonly signer: RemoteCheckpointSigner,
    private readonly everyEntries: number,
    private readonly published: (sc: SignedCheckpoint) => void,
  ) {}

  /** The latest checkpoint, signing one of the current head first when the tree has grown past it. */
  async ifGrown(): Promise<SignedCheckpoint | undefined> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    const latest = this.store.latestCheckpoint();
    if (this.store.size === 0 || latest?.size === this.store.size) return latest;
    this.inFlight = this.signHead().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** After a committed batch: true when enough entries accumulated that a checkpoint is due. */
  due(): boolean {
    if (this.everyEntries <= 0 || this.inFlight) return false;
    return this.store.size - (this.store.latestCheckpoint()?.size ?? 0) >= this.everyEntries;
  }

  private async signHead(): Promise<SignedCheckpoint | undefined> {
    const head = this.store.treeHead();
    // Every entry of this head was committed before the call: once sync() resolves, all are on disk.
    await this.store.sync();
    const sc = await this.signer.sign(head);
    const stored = this.store.addCheckpoint(sc);
    if (!stored) return this.store.latestCheckpoint()!;
    this.published(stored);
    return stored;
  }
}
