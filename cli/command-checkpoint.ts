/**
 * `agov checkpoint now [--notes N]`, `checkpoint load [ID] [--restore] [--dry-run]`,
 * `checkpoint report`, `checkpoint timeline [--limit N]`: asked of the checkpoint actor
 * (`gov.svc.checkpoint`); `report` combines the latest checkpoint with the live dashboard, memory stats
 * and ledger head. `--json` prints the replies. Restoring is an operator's (T2) act and is audited.
 */
import { parseArgs } from 'node:util';
import { renderCheckpoint } from '../actors/context/checkpoint-logic.ts';
import { renderDashboard } from '../actors/context/status-logic.ts';
import type { Bus } from '../bus/bus.ts';
import { ACTOR_KIND } from '../protocols/actor-kinds.ts';
import type { MessageType } from '../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../protocols/envelope.ts';
import { ConfigError, serializeError } from '../protocols/vocabulary/errors.ts';
import { askContext, intOption, print, printJson, withBus } from './context-client.ts';

export const CHECKPOINT_USAGE = `agov checkpoint now [--notes TEXT]
agov checkpoint load [ID] [--restore [--dry-run]]
agov checkpoint report
agov checkpoint timeline [--limit N]
options: --json, --nats URL
`;

/** One part of the report: its reply, or the error that stood in its way (a report is never all or nothing). */
async function part<R extends MessageType>(bus: Bus, kind: string, msg: OutMessage, expect: R) {
  try {
    return { ok: true as const, reply: (await askContext(bus, kind, msg, expect)) as Envelope<R> };
  } catch (err) {
    return { ok: false as const, error: serializeError(err) };
  }
}

const OPTIONS = {
  notes: { type: 'string' },
  restore: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  nats: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function commandCheckpoint(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [sub, id] = positionals;
  switch (sub) {
    case 'now':
      return withBus('checkpoint', values.nats, (bus) => checkpointNow(bus, values));
    case 'load':
      return withBus('checkpoint', values.nats, (bus) => checkpointLoad(bus, values, id));
    case 'report':
      return withBus('checkpoint', values.nats, (bus) => checkpointReport(bus, values));
    case 'timeline':
      return withBus('checkpoint', values.nats, (bus) => checkpointTimeline(bus, values));
    default:
      if (sub !== undefined && sub !== 'help')
        throw new ConfigError(`unknown subcommand ${JSON.stringify(sub)}\n${CHECKPOINT_USAGE}`);
      print(CHECKPOINT_USAGE);
      return 0;
  }
}

/** `checkpoint now`: the checkpoint actor takes one. */
async function checkpointNow(bus: Bus, values: Values): Promise<number> {
  const reply = await askContext(
    bus,
    ACTOR_KIND.checkpoint,
    { type: 'checkpoint.take.v1', body: { ...(values.notes ? { notes: values.notes } : {}) } },
    'checkpoint.v1',
  );
  if (values.json) printJson(reply.body);
  else print(`${reply.body.id} taken\n${renderCheckpoint(reply.body)}`);
  return 0;
}

/** `checkpoint load [ID] [--restore [--dry-run]]`: shows a checkpoint, or restores it (T2, audited); exit 1 when an action failed. */
async function checkpointLoad(bus: Bus, values: Values, id: string | undefined): Promise<number> {
  const reply = await askContext(
    bus,
    ACTOR_KIND.checkpoint,
    { type: 'checkpoint.get.v1', body: id ? { id } : {} },
    'checkpoint.v1',
  );
  if (!values.restore) {
    if (values.json) printJson(reply.body);
    else print(renderCheckpoint(reply.body));
    return 0;
  }
  const restored = await askContext(
    bus,
    ACTOR_KIND.checkpoint,
    {
      type: 'checkpoint.restore.v1',
      body: {
        id: reply.body.id,
        dryRun: Boolean(values['dry-run']),
      },
    },
    'checkpoint.restored.v1',
    'T2',
  );
  const r = restored.body;
  if (values.json) printJson(r);
  else
    print(
      [
        `restore of ${r.checkpointId}${r.before ? ` (checkpoint ${r.before} taken first)` : ' (dry run)'}`,
        ...r.actions.map(
          (a) => `  ${a.outcome.padEnd(8)} ${a.target} ${a.command}${a.detail ? ` (${a.detail})` : ''}`,
        ),
        'not restored:',
        ...r.notRestored.map((n) => `  ${n}`),
      ].join('\n'),
    );
  return r.actions.some((a) => a.outcome === 'failed') ? 1 : 0;
}

/** `checkpoint report`: the latest checkpoint with the live dashboard, memory stats and ledger head, each part on its own. */
async function checkpointReport(bus: Bus, values: Values): Promise<number> {
  const [cp, dash, stats, ledger] = await Promise.all([
    part(bus, ACTOR_KIND.checkpoint, { type: 'checkpoint.get.v1', body: {} }, 'checkpoint.v1'),
    part(bus, ACTOR_KIND.workStatus, { type: 'status.query.v1', body: {} }, 'status.dashboard.v1'),
    part(bus, ACTOR_KIND.memory, { type: 'memory.stats.v1', body: {} }, 'memory.stats.result.v1'),
    part(
      bus,
      ACTOR_KIND.ledgerWriter,
      { type: 'ledger.head.v1', body: { fresh: true } },
      'ledger.checkpoint.v1',
    ),
  ]);
  const body = (p: { ok: boolean; reply?: { body: unknown }; error?: unknown }) =>
    p.ok ? p.reply?.body : { error: p.error };
  if (values.json) {
    printJson({
      checkpoint: body(cp),
      dashboard: body(dash),
      memory: body(stats),
      ledger: body(ledger),
    });
    return 0;
  }
  const lines: string[] = ['== checkpoint'];
  lines.push(cp.ok ? renderCheckpoint(cp.reply.body) : `unavailable: ${cp.error.code} ${cp.error.message}`);
  lines.push('', '== status');
  lines.push(dash.ok ? renderDashboard(dash.reply.body) : `unavailable: ${dash.error.code}`);
  lines.push('', '== memory');
  lines.push(
    stats.ok
      ? `${stats.reply.body.count} blobs, ${stats.reply.body.bytes} bytes`
      : `unavailable: ${stats.error.code}`,
  );
  lines.push('', '== ledger');
  lines.push(
    ledger.ok
      ? `size ${ledger.reply.body.ledgerSize}, signed size ${ledger.reply.body.size}, root ${ledger.reply.body.root}`
      : `unavailable: ${ledger.error.code}`,
  );
  print(lines.join('\n'));
  return 0;
}

/** `checkpoint timeline [--limit N]`: checkpoints, newest first, with what changed. */
async function checkpointTimeline(bus: Bus, values: Values): Promise<number> {
  const reply = await askContext(
    bus,
    ACTOR_KIND.checkpoint,
    { type: 'checkpoint.list.v1', body: { limit: intOption('limit', values.limit, 1, 1000) ?? 50 } },
    'checkpoint.timeline.v1',
  );
  if (values.json) printJson(reply.body);
  else
    print(
      reply.body.checkpoints.length === 0
        ? 'no checkpoints yet (agov checkpoint now --notes "…")'
        : reply.body.checkpoints
            .map(
              (c) =>
                `${c.id}  ${new Date(c.createdAt).toISOString()}  ${c.reason}${c.notes ? `  "${c.notes}"` : ''}\n${c.changes.map((l) => `    ${l}`).join('\n')}`,
            )
            .join('\n'),
    );
  return 0;
}
