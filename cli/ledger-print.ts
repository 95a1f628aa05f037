/** How `agov ledger` prints entries, and its stop on SIGINT/SIGTERM (shared by the file and bus tails). */
import { type EntryView, type LedgerEntry, entryView } from '../actors/ledger/reader.ts';

export function printEntry(e: LedgerEntry | EntryView<unknown>, json: boolean): void {
  const p = entryView(e);
  if (json) {
    process.stdout.write(`${JSON.stringify(p)}\n`);
    return;
  }
  const who = [p.run ? `run=${p.run}` : '', p.agent ? `agent=${p.agent}` : ''].filter(Boolean).join(' ');
  process.stdout.write(
    `${String(p.seq).padStart(6)}  ${new Date(p.ts).toISOString()}  ${p.type}  ${p.actor}${who ? `  ${who}` : ''}  ${JSON.stringify(p.data)}\n`,
  );
}

export function stopSignal() {
  const s = { stopped: false, promise: undefined as unknown as Promise<void> };
  s.promise = new Promise<void>((resolve) => {
    const stop = () => {
      s.stopped = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return s;
}
