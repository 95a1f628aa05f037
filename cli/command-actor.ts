import { parseArgs } from 'node:util';
import { runActor } from '../actors/runtime/index.ts';
import { type Environment, readEnvironment } from '../infra/environment.ts';
import { ConfigError } from '../protocols/index.ts';
// The process entry of every process child: it loads the kind table and the environment mapping
// only, not the system face (startSystem, teams, YAML), since restart latency depends on it.
import { environmentArgs } from '../system/environment-args.ts';
import { loadActorKind } from '../system/kinds.ts';
import { parseKeyValues } from './args.ts';

/**
 * `agov actor <kind> --id <id> [--arg k=v ...] [--heartbeat-ms N]`: runs one actor in this process.
 * Its start arguments are, by precedence: `--arg`, the JSON a process supervisor passes in
 * AGOV_ACTOR_ARGS, and the environment variables the kind has options for (system/environment-args.ts).
 * They are checked against the kind's schema before it starts: a bad one fails here, naming it.
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
  const env = readEnvironment();
  const servers = values.nats ?? env.natsUrl;
  if (!servers) throw new ConfigError('agov actor needs NATS_URL (or --nats) to join an existing bus');
  const kind = await loadActorKind(kindName);
  const args = {
    ...environmentArgs(kindName, env),
    ...supervisorArgs(env),
    ...parseKeyValues(values.arg ?? []),
  };
  const handle = await runActor(kind, {
    id: values.id,
    args,
    bus: { servers },
    heartbeatMs: heartbeatOption(values['heartbeat-ms']),
  });
  const stop = () => void handle.stop('signal');
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (env.exitWithParent) {
    // Our supervisor holds the other end of stdin: EOF means it died. An orphan must not live on.
    process.stdin.on('data', () => {});
    process.stdin.once('end', () => void handle.kill().then(() => process.exit(1)));
  }
  const report = await handle.exited;
  return report.reason === 'crash' ? 1 : 0;
}

/** Structured start arguments passed by a process supervisor (JSON in AGOV_ACTOR_ARGS). */
function supervisorArgs(env: Environment): Record<string, unknown> {
  const raw = env.actorArgsJson;
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`AGOV_ACTOR_ARGS is not valid JSON: ${String(err)}`);
  }
}

function heartbeatOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigError(`option --heartbeat-ms must be a positive integer, got ${JSON.stringify(raw)}`, {
      details: { option: 'heartbeat-ms' },
    });
  return n;
}
