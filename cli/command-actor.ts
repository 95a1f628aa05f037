import { parseArgs } from 'node:util';
import { loadActorKind } from '../actors/kind-loaders.ts';
import { runActor } from '../actors/runtime/actor.ts';
import { ConfigError } from '../protocols/errors.ts';
import { parseKeyValues } from './args.ts';

/**
 * `agov actor <kind> --id <id> [--arg k=v ...] [--heartbeat-ms N]`: runs one actor in this process.
 * Exits 0 after a graceful stop (SIGTERM/SIGINT or actor.stop.v1) and 1 after a crash, so a process
 * supervisor sees crashes as abnormal exits.
 */
export async function commandActor(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      arg: { type: 'string', multiple: true },
      'heartbeat-ms': { type: 'string' },
      nats: { type: 'string' },
    },
  });
  const kindName = positionals[0];
  if (!kindName || !values.id)
    throw new ConfigError('usage: agov actor <kind> --id <id> [--arg k=v] [--heartbeat-ms N]');
  const servers = values.nats ?? process.env.NATS_URL;
  if (!servers) throw new ConfigError('agov actor needs NATS_URL (or --nats) to join an existing bus');
  const kind = await loadActorKind(kindName);
  const args = { ...parseKeyValues(values.arg ?? []), ...envArgs() };
  const handle = await runActor(kind, {
    id: values.id,
    args,
    bus: { servers },
    heartbeatMs: values['heartbeat-ms'] ? Number(values['heartbeat-ms']) : undefined,
  });
  const stop = () => void handle.stop('signal');
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.env.AGOV_EXIT_WITH_PARENT === '1') {
    // Our supervisor holds the other end of stdin: EOF means it died. An orphan must not live on.
    process.stdin.on('data', () => {});
    process.stdin.once('end', () => void handle.kill().then(() => process.exit(1)));
  }
  const report = await handle.exited;
  return report.reason === 'crash' ? 1 : 0;
}

/** Structured start arguments passed by a process supervisor (JSON in AGOV_ACTOR_ARGS). */
function envArgs(): Record<string, unknown> {
  const raw = process.env.AGOV_ACTOR_ARGS;
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`AGOV_ACTOR_ARGS is not valid JSON: ${String(err)}`);
  }
}
