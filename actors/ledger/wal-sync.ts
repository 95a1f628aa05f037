/**
 * Deferred durability for the ledger store: commits run with synchronous=NORMAL and reach the disk
 * through one fsync of the WAL, off the event loop, that covers every commit made before it (group
 * commit). The store counts its commits here; `sync()` resolves once they are on disk.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { GovError, LedgerStoreError } from '../../protocols/vocabulary/index.ts';
import { DEFAULT_SYNCHRONOUS, type LedgerStoreOptions } from './ledger-options.ts';

export function isDeferred(opts: LedgerStoreOptions): boolean {
  const file = opts.path !== ':memory:' && opts.path !== '';
  return (
    file &&
    !opts.readonly &&
    opts.durability === 'deferred' &&
    (opts.synchronous ?? DEFAULT_SYNCHRONOUS) === 'FULL'
  );
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a newly created file's directory entry durable (what SQLite does for a new WAL under FULL). */
function syncDirectory(dir: string): void {
  try {
    fsyncFile(dir);
  } catch {
    // not supported on this platform / file system
  }
}

export function storeError(what: string, err: unknown): GovError {
  if (err instanceof GovError) return err;
  return new LedgerStoreError(`ledger store: ${what}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/** Counts the store's write transactions and fsyncs its WAL (durability 'deferred'; a no-op otherwise). */
export class WalSync {
  /** Write transactions committed, and how many of them are known to be on disk. */
  private commits = 0;
  private syncedCommits = 0;
  private syncing: Promise<void> | undefined;
  private dirSynced = false;
  /**
   * The WAL, open for fsync from the first sync to close: SQLite keeps the same file while the
   * database is open, and opening it per sync cost as much CPU as the fsync call itself.
   */
  private walFd: number | undefined;

  constructor(
    private readonly path: string,
    private readonly deferred: boolean,
  ) {}

  /** Counts a write transaction that is not on disk yet (durability 'deferred'; FULL commits are). */
  committed(): void {
    if (this.deferred) this.commits++;
  }

  /** True while some commit is not known to be on disk (durability 'deferred'). */
  get unsynced(): boolean {
    return this.syncedCommits < this.commits;
  }

  /** Resolves once every transaction committed before the call is on disk. */
  sync(): Promise<void> {
    const target = this.commits;
    if (this.syncedCommits >= target) return Promise.resolve();
    return this.syncUpTo(target);
  }

  private async syncUpTo(target: number): Promise<void> {
    while (this.syncedCommits < target) {
      if (this.syncing) {
        await this.syncing;
        continue;
      }
      const upTo = this.commits;
      const done = this.fsyncWal().then(
        () => {
          this.syncedCommits = Math.max(this.syncedCommits, upTo);
        },
        (err: unknown) => {
          throw storeError('fsync of the WAL failed', err);
        },
      );
      this.syncing = done.finally(() => {
        this.syncing = undefined;
      });
      await this.syncing;
    }
  }

  private wal(): number {
    this.walFd ??= openSync(`${this.path}-wal`, 'r');
    return this.walFd;
  }

  private async fsyncWal(): Promise<void> {
    const fd = this.wal();
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    this.syncDirOnce();
  }

  private syncDirOnce(): void {
    if (this.dirSynced) return;
    syncDirectory(dirname(this.path));
    this.dirSynced = true;
  }

  /** {@link sync}, blocking: every commit so far is on disk when it returns. */
  syncNow(): void {
    if (this.syncedCommits >= this.commits) return;
    const upTo = this.commits;
    try {
      fsyncSync(this.wal());
      this.syncDirOnce();
    } catch (err) {
      throw storeError('fsync of the WAL failed', err);
    }
    this.syncedCommits = Math.max(this.syncedCommits, upTo);
  }

  /** Closes the WAL descriptor, after an fsync still running in the thread pool (never under it). */
  close(): void {
    const fd = this.walFd;
    if (fd === undefined) return;
    this.walFd = undefined;
    if (this.syncing)
      void this.syncing.then(
        () => closeSync(fd),
        () => closeSync(fd),
      );
    else closeSync(fd);
  }
}
