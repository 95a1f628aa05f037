import { parseArgs } from 'node:util';
import { defaultRegistry } from '../actors/kinds.ts';
import { ActorHost } from '../actors/runtime/actor-host.ts';
import { Bus } from '../bus/bus.ts';
import { ensureStreams } from '../bus/streams.ts';
import { resolveServices } from '../infra/services.ts';
import { actorInbox } from '../protocols/subjects.ts';

/**
 * `agov up [--once]`: resolves services (starting embedded ones when no URL is set), starts the
 * system's actors and shows them alive. With --once it exits after the check; otherwise it runs
 * until SIGINT/SIGTERM.
 */
export async function commandUp(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { once: { type: 'boolean' } } });
  const services = await resolveServices();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`nats:  ${services.natsUrl}${services.embedded.nats ? ' (embedded)' : ''}`);
  out(`redis: ${services.redisUrl}${services.embedded.redis ? ' (embedded)' : ''}`);
  out(`data:  ${services.dataDir}`);
  const client = await Bus.connect({ servers: services.natsUrl, name: 'agov-cli' });
  await ensureStreams(client.nc);
  const host = new ActorHost({ registry: defaultRegistry(), bus: { servers: services.natsUrl } });
  const started = [await host.spawn('echo', 'echo-1'), await host.spawn('counter', 'counter-1')];
  for (const a of started) {
    const t0 = performance.now();
    const pong = await client.ask(actorInbox(a.kind, a.id), { type: 'actor.ping.v1', body: {} });
    out(`actor ${a.address.padEnd(28)} alive (pong from ${pong.from} in ${(performance.now() - t0).toFixed(1)} ms)`);
  }
  if (!values.once) {
    out('running; Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
  await host.stopAll();
  await client.close();
  await services.stop();
  return 0;
}
