/**
 * `agov memory log --stdin|--file F [--tag T]... [--run ID] [--type CT]` stores a blob and prints its id;
 * `memory fetch ID [-s]` prints it (or its summary), `memory list [--limit N] [--tag T] [--run ID]`,
 * `memory stats`, `memory delete ID` (T2). All ask the memory actor (`gov.svc.memory`); `--json` prints
 * the reply. A task's `PIPELINE_ID` is its `--run` unless one is given.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatSummary } from '../actors/context/memory-summary.ts';
import { encodeContent } from '../protocols/memory-content.ts';
import { readEnvironment } from '../infra/environment.ts';
import { ACTOR_KIND } from '../protocols/actor-kinds.ts';
import type { BodyOf, MessageType } from '../protocols/catalog.ts';
import { ConfigError } from '../protocols/vocabulary/errors.ts';
import type { OutMessage } from '../protocols/envelope.ts';
import type { Tier } from '../protocols/vocabulary/tiers.ts';
import { askOnce, intOption, print, printJson } from './context-client.ts';

export const MEMORY_USAGE = `agov memory log --stdin|--file F [--tag T]... [--run ID] [--type CT]
agov memory fetch ID [-s]
agov memory list [--limit N] [--tag T] [--run ID]
agov memory stats
agov memory delete ID          (T2)
options: --json, --nats URL
`;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function entryLine(e: BodyOf<'memory.entry.v1'>): string {
  const when = new Date(e.createdAt).toISOString();
  return `${e.id.slice(0, 16)}  ${String(e.size).padStart(8)}B  ${e.summary.format.padEnd(6)}  ${when}  ${e.tags.join(',') || '-'}  ${e.runId ?? '-'}`;
}

const OPTIONS = {
  stdin: { type: 'boolean' },
  file: { type: 'string' },
  tag: { type: 'string', multiple: true },
  run: { type: 'string' },
  type: { type: 'string' },
  summary: { type: 'boolean', short: 's' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  nats: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Prints the reply as JSON with --json, else the text. */
const outFor = (values: Values) => (text: string, value: unknown) =>
  values.json ? printJson(value) : print(text);

export async function commandMemory(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [sub, id] = positionals;
  switch (sub) {
    case 'log':
      return memoryLog(values);
    case 'fetch':
      return memoryFetch(values, id);
    case 'list':
      return memoryList(values);
    case 'stats':
      return memoryStats(values);
    case 'delete':
      return memoryDelete(values, id);
    default:
      print(MEMORY_USAGE);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}

/** One ask of the memory actor. */
const askMemory = <R extends MessageType>(values: Values, msg: OutMessage, expect: R, tier?: Tier) =>
  askOnce('memory', ACTOR_KIND.memory, values.nats, msg, expect, tier);

/** `memory log --stdin|--file F`: stores a blob (T1) and prints its id. */
async function memoryLog(values: Values): Promise<number> {
  const out = outFor(values);
  if (!values.stdin && !values.file) throw new ConfigError('agov memory log needs --stdin or --file F');
  const bytes = values.file ? readFileSync(values.file) : await readStdin();
  const runId = values.run ?? readEnvironment().pipelineId;
  const reply = await askMemory(
    values,
    {
      type: 'memory.put.v1',
      body: {
        ...encodeContent(bytes),
        ...(values.type ? { contentType: values.type } : {}),
        tags: values.tag ?? [],
        ...(runId ? { runId } : {}),
      },
    },
    'memory.entry.v1',
    'T2',
  );
  out(reply.body.id, reply.body);
  return 0;
}

/** `memory fetch ID [-s]`: the blob's bytes, or its summary. */
async function memoryFetch(values: Values, id: string | undefined): Promise<number> {
  if (!id) throw new ConfigError('agov memory fetch needs an ID');
  const reply = await askMemory(
    values,
    { type: 'memory.get.v1', body: { id, summaryOnly: Boolean(values.summary) } },
    'memory.content.v1',
  );
  if (values.json) printJson(reply.body);
  else if (values.summary)
    print(`${entryLine(reply.body.entry)}\n${formatSummary(reply.body.entry.summary)}`);
  else
    process.stdout.write(
      reply.body.encoding === 'base64'
        ? Buffer.from(reply.body.content ?? '', 'base64')
        : (reply.body.content ?? ''),
    );
  return 0;
}

/** `memory list`: entries, newest first. */
async function memoryList(values: Values): Promise<number> {
  const out = outFor(values);
  const reply = await askMemory(
    values,
    {
      type: 'memory.list.v1',
      body: {
        limit: intOption('limit', values.limit, 1, 1000) ?? 20,
        ...(values.tag?.[0] ? { tag: values.tag[0] } : {}),
        ...(values.run ? { runId: values.run } : {}),
      },
    },
    'memory.entries.v1',
  );
  const lines = reply.body.entries.map(entryLine);
  out(
    [`${reply.body.entries.length} of ${reply.body.total} (newest first)`, ...lines].join('\n'),
    reply.body,
  );
  return 0;
}

/** `memory stats`: blobs and bytes, by tag and run. */
async function memoryStats(values: Values): Promise<number> {
  const out = outFor(values);
  const reply = await askMemory(values, { type: 'memory.stats.v1', body: {} }, 'memory.stats.result.v1');
  const s = reply.body;
  const table = (title: string, m: Record<string, { count: number; bytes: number }>) =>
    Object.entries(m).map(([k, v]) => `  ${title} ${k}: ${v.count} blobs, ${v.bytes} bytes`);
  out(
    [`${s.count} blobs, ${s.bytes} bytes`, ...table('tag', s.byTag), ...table('run', s.byRun)].join('\n'),
    s,
  );
  return 0;
}

/** `memory delete ID` (T2). */
async function memoryDelete(values: Values, id: string | undefined): Promise<number> {
  const out = outFor(values);
  if (!id) throw new ConfigError('agov memory delete needs an ID');
  await askMemory(values, { type: 'memory.delete.v1', body: { id } }, 'ack.v1', 'T2');
  out(`deleted ${id}`, { deleted: id });
  return 0;
}
