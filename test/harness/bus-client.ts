import { Bus } from '../../bus/bus.ts';
import type { Envelope } from '../../protocols/envelope.ts';

/** A bus for the test itself, plus a collector of what arrives on a subject. */
export async function testBus(servers: string, name = 'test-client'): Promise<Bus> {
  return Bus.connect({ servers, name, askTimeoutMs: 5_000 });
}

/** Collects decoded envelopes published on `subject`; `next(pred)` awaits the first match. */
export function collect(bus: Bus, subject: string) {
  const seen: Envelope[] = [];
  const waiters: Array<{ pred: (e: Envelope) => boolean; resolve: (e: Envelope) => void }> = [];
  const sub = bus.subscribeRaw(subject, (m) => {
    const d = bus.decode(m.data);
    if (!d.ok) return;
    seen.push(d.env);
    for (const w of [...waiters]) {
      if (w.pred(d.env)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(d.env);
      }
    }
  });
  return {
    seen,
    next(pred: (e: Envelope) => boolean = () => true, timeoutMs = 20_000): Promise<Envelope> {
      const found = seen.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no matching message on ${subject} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(t);
            resolve(e);
          },
        });
      });
    },
    ready: () => bus.flush(),
    close: () => sub.unsubscribe(),
  };
}
