/**
 * `agov ledger tail --follow` over the bus (NATS_URL set): the writer answers `ledger.query.v1` and
 * announces each appended batch on the feed. Its own module so the file-reading ledger commands never
 * load the NATS client.
 */
import { Bus } from '../bus/index.ts';
import { ACTOR_KIND, obsSubject, serviceSubject } from '../protocols/index.ts';
import { printEntry, stopSignal } from './ledger-print.ts';

export /** `tail --follow` over the bus: the last n entries, then each batch the writer announces on the feed. */
async function followOverBus(natsUrl: string, n: number, json: boolean): Promise<number> {
  const bus = await Bus.connect({ servers: natsUrl, name: `agov-ledger-tail-${process.pid}` });
  const svc = serviceSubject(ACTOR_KIND.ledgerWriter);
  let next = 0;
  let busy: Promise<void> = Promise.resolve();
  const drain = async () => {
    for (;;) {
      const r = await bus.ask(svc, { type: 'ledger.query.v1', body: { fromSeq: next } });
      if (r.type !== 'ledger.entries.v1') return;
      for (const e of r.body.entries) {
        printEntry(e, json);
        next = e.seq + 1;
      }
      if (!r.body.more) return;
    }
  };
  try {
    // Subscribe first so no announcement is missed; the initial tail runs first in the chain.
    bus.subscribeRaw(obsSubject('ledger', 'appended'), () => {
      busy = busy.then(drain).catch((err) => {
        process.stderr.write(`agov ledger tail: ${String(err)}\n`);
      });
    });
    busy = busy.then(async () => {
      const last = await bus.ask(svc, {
        type: 'ledger.query.v1',
        body: { order: 'desc', limit: Math.max(n, 1) },
      });
      if (last.type !== 'ledger.entries.v1') return;
      if (n > 0) for (const e of [...last.body.entries].reverse()) printEntry(e, json);
      next = Math.max(next, last.body.size);
    });
    await busy;
    const stop = stopSignal();
    await stop.promise;
    return 0;
  } finally {
    await bus.close();
  }
}
