/**
 * What `agov checkpoint`, `agov status` and `agov memory` share: the bus to a running system
 * (NATS_URL or --nats), asking a context service with a useful message when it is not running, and
 * output as text or JSON.
 */
import { Bus } from '../bus/bus.ts';
import { readEnvironment } from '../infra/environment.ts';
import type { MessageType } from '../protocols/catalog.ts';
import type { Envelope, OutMessage } from '../protocols/envelope.ts';
import { ConfigError, InternalError, NoRespondersError } from '../protocols/vocabulary/errors.ts';
import { contextSubject, serviceSubject } from '../protocols/subjects.ts';
import type { Tier } from '../protocols/vocabulary/tiers.ts';

export const CONTEXT_CLI_TIMEOUT_MS = 30_000;

export async function connectContext(command: string, nats: string | undefined): Promise<Bus> {
  const servers = nats ?? readEnvironment().natsUrl;
  if (!servers)
    throw new ConfigError(
      `agov ${command} needs NATS_URL (or --nats) pointing at a running system (see agov up)`,
    );
  return Bus.connect({ servers, name: `agov-${command}`, askTimeoutMs: CONTEXT_CLI_TIMEOUT_MS });
}

/**
 * Asks the service of `kind`; the reply must be `expect`. With `tier` (writes, deletes, restores) the
 * ask goes to `gov.ctx.<kind>.<tier>.<this connection's principal>`: the broker decides whether this
 * credential may speak at that tier (the operator's client credential: T2), and the service reads tier
 * and author from the subject.
 */
export async function askContext<R extends MessageType>(
  bus: Bus,
  kind: string,
  msg: OutMessage,
  expect: R,
  tier?: Tier,
): Promise<Envelope<R>> {
  let reply: Envelope;
  try {
    reply = await bus.ask(tier ? contextSubject(kind, tier, bus.principal()) : serviceSubject(kind), msg);
  } catch (err) {
    if (err instanceof NoRespondersError)
      throw new NoRespondersError(`no ${kind} actor is running (it is a service of agov up)`, { cause: err });
    throw err;
  }
  if (reply.type !== expect) throw new InternalError(`${kind} answered ${reply.type}, expected ${expect}`);
  return reply as Envelope<R>;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

export async function withBus<T>(
  command: string,
  nats: string | undefined,
  fn: (bus: Bus) => Promise<T>,
): Promise<T> {
  const bus = await connectContext(command, nats);
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

/** One ask of a context service over a connection of its own, closed once answered. */
export function askOnce<R extends MessageType>(
  command: string,
  kind: string,
  nats: string | undefined,
  msg: OutMessage,
  expect: R,
  tier?: Tier,
): Promise<Envelope<R>> {
  return withBus(command, nats, (bus) => askContext(bus, kind, msg, expect, tier));
}

/** A positive integer option, or a ConfigError naming it. */
export function intOption(
  name: string,
  v: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}
