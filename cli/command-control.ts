/**
 * Operator controls from the CLI (docs/protocol.md "Operator controls"): each is one
 * control.command.v1 on `gov.ctl.<tier>.<this connection's principal>`. The broker decides whether
 * this credential may speak at that tier (the operator's client credential: T2); the control actor
 * applies the command through the service that owns the state and audits it with that principal.
 *
 * - `agov agents suspend|resume|release|promote|demote|drain AGENT_ID [--reason R]`
 * - `agov runs cancel|pause|resume RUN_ID [--reason R]`
 * - `agov budget show|reset RUN_ID [--reason R]`
 * - `agov tokens revoke RUN_ID [--reason R]`
 */
import { parseArgs } from 'node:util';
import type { Bus } from '../bus/bus.ts';
import {
  AGENT_CONTROLS,
  BUDGET_CONTROLS,
  ConfigError,
  ControlCommandSchema,
  controlSubject,
  NoRespondersError,
  RUN_CONTROLS,
  TOKEN_CONTROLS,
  isTier,
} from '../protocols/index.ts';
import type { BodyIn, BodyOf } from '../protocols/catalog.ts';
import { print, printJson, withBus } from './context-client.ts';

export const CONTROL_VERBS = {
  agent: AGENT_CONTROLS,
  run: RUN_CONTROLS,
  budget: BUDGET_CONTROLS,
  token: TOKEN_CONTROLS,
} as const;
type Target = keyof typeof CONTROL_VERBS;

/** Sends one control with this connection's credential and returns the control actor's answer. */
export async function sendControl(
  bus: Bus,
  cmd: BodyIn<'control.command.v1'>,
  tier = 'T2',
): Promise<BodyOf<'control.result.v1'>> {
  const body = ControlCommandSchema.parse(cmd);
  let reply: Awaited<ReturnType<Bus['ask']>>;
  try {
    reply = await bus.ask(controlSubject(tier, bus.principal()), { type: 'control.command.v1', body });
  } catch (err) {
    if (err instanceof NoRespondersError)
      throw new NoRespondersError('no control actor is running (it is a service of agov up)', { cause: err });
    throw err;
  }
  if (reply.type !== 'control.result.v1') throw new ConfigError(`unexpected reply ${reply.type}`);
  return reply.body;
}

function describe(r: BodyOf<'control.result.v1'>): string {
  const d = r.detail as Record<string, unknown> | undefined;
  const state = d && typeof d === 'object' ? (d.state ?? d.status ?? d.verdict) : undefined;
  const cp = r.checkpoint
    ? r.checkpoint.id
      ? `; checkpoint ${r.checkpoint.id} taken before`
      : `; no checkpoint before (${r.checkpoint.missing})`
    : '';
  return `${r.on} ${r.id}: ${r.command} ${r.outcome} by ${r.actor} (${r.tier})${state ? `; now ${String(state)}` : ''}${cp}`;
}

/** `agov <group> VERB ID [--reason R] [--tier T] [--json] [--nats URL]` for one control target. */
export async function commandControl(on: Target, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      tier: { type: 'string' },
      json: { type: 'boolean' },
      nats: { type: 'string' },
    },
  });
  const [verb, id] = positionals;
  const verbs = CONTROL_VERBS[on] as readonly string[];
  if (!verb || !verbs.includes(verb) || !id || positionals.length > 2)
    throw new ConfigError(`usage: agov ${groupName(on)} ${verbs.join('|')} ID [--reason R]`);
  const tier = values.tier ?? 'T2';
  if (!isTier(tier)) throw new ConfigError('--tier must be T0, T1 or T2');
  const result = await withBus(groupName(on), values.nats, (bus) =>
    sendControl(bus, { on, id, command: verb, reason: values.reason } as BodyIn<'control.command.v1'>, tier),
  );
  if (values.json) printJson(result);
  else if (on === 'budget' && verb === 'show') printJson(result.detail);
  else print(describe(result));
  return 0;
}

function groupName(on: Target): string {
  return on === 'agent' ? 'agents' : on === 'run' ? 'runs' : on === 'token' ? 'tokens' : 'budget';
}

/** Whether `agov agents|runs` was given a control verb rather than its listing options. */
export function isControlVerb(on: Target, argv: readonly string[]): boolean {
  const first = argv[0];
  return first !== undefined && (CONTROL_VERBS[on] as readonly string[]).includes(first);
}
