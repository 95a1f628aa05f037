import type { Envelope } from '../../protocols/index.ts';
import { heartbeatSubject } from '../../protocols/index.ts';
import { allChildren } from '../../supervisors/supervisor-tree.ts';
import type { RunningSystem } from '../../system/index.ts';
import { collect } from './bus-client.ts';
import { waitFor } from './wait-for.ts';

/**
 * Waits until every actor of a started system runs, then for the gateway's next heartbeat that says
 * where it listens (`status.url`, port 0 picks a free one); returns that URL.
 */
export async function systemGatewayUrl(sys: RunningSystem, gatewayId = 'gateway-1'): Promise<string> {
  const hb = collect(sys.client, heartbeatSubject('gateway', gatewayId));
  await hb.ready();
  try {
    await waitFor(
      'every actor running',
      async () => allChildren(await sys.tree()).every((c) => c.status === 'running'),
      90_000,
    );
    const beat = await hb.next(
      (e) => e.type === 'actor.heartbeat.v1' && typeof e.body.status?.url === 'string',
    );
    return (beat as Envelope<'actor.heartbeat.v1'>).body.status!.url as string;
  } finally {
    hb.close();
  }
}
