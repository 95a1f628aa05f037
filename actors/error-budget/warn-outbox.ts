/**
 * The budget monitor's `warn` event, kept as a transactional outbox in the run's budget state hash
 * (budget-store.ts: same key, same hash slot). The warn is implied by a latch the budget script makes
 * (`warnedAt`), so the script marks it owed in the same atomic step (`warnPending`); the monitor then
 * stores the event's envelope beside it (`warnEvent`), publishes it, and clears `warnPending` once the
 * audit stream acknowledged it. A monitor SIGKILLed anywhere in between leaves `warnPending`, and the
 * next time the run is counted (the orchestrator event it had not acked comes back; or the run's next
 * outcome) the warn goes out: the stored envelope under its id (kept once by the stream and the
 * ledger), or, when none was stored, a new one — nothing was published before it was stored.
 */
import type { Redis } from 'ioredis';
import { type Bus, publishEnvelopeFeedAndAudit } from '../../bus/index.ts';
import { type BodyOf, type Envelope, feedToken } from '../../protocols/index.ts';
import { budgetKeys } from './budget-store.ts';

/** Stores the envelope only while the warn is owed (a reset or expiry in between leaves nothing behind). */
const KEEP_IF_PENDING = `if redis.call('HEXISTS', KEYS[1], 'warnPending') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'warnEvent', ARGV[1])
return 1`;

export type WarnEvent = Envelope<'budget.event.v1'>;
export type WarnBody = BodyOf<'budget.event.v1'> & { event: 'warn' };

/** How warn events are made and sent: the monitor's bus (envelope), then the feed and the audit stream. */
export interface WarnSender {
  wrap(body: WarnBody): WarnEvent;
  /** Resolves once the audit stream acknowledged it. */
  publish(env: WarnEvent): Promise<unknown>;
}

/** Warn events of the monitor's bus: `budget.event.v1` on the feed (`gov.obs.budget.<run>`) and in the audit stream. */
export function busWarnSender(bus: Bus): WarnSender {
  return {
    wrap: (body) => bus.wrap({ type: 'budget.event.v1', body, run: body.runId }),
    publish: (env) => publishEnvelopeFeedAndAudit(bus, ['budget', feedToken(env.body.runId)], 'budget', env),
  };
}

export class WarnOutbox {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly sender: WarnSender,
  ) {}

  /** The first warn just latched (the script marked it owed): kept, published, then no longer owed. */
  async announce(body: WarnBody): Promise<void> {
    const env = this.made(body);
    await this.keep(body.runId, env);
    await this.sender.publish(env);
    await this.sent(body.runId);
  }

  /**
   * Publishes a warn a SIGKILL left owed: the stored envelope, else a new one of `body()` (the windows
   * now). True when one was owed.
   */
  async resume(runId: string, body: () => WarnBody): Promise<boolean> {
    const owed = await this.owed(runId);
    if (!owed) return false;
    let env = owed.event;
    if (!env) {
      env = this.made(body());
      if (!(await this.keep(runId, env))) return false;
    }
    await this.sender.publish(env);
    await this.sent(runId);
    return true;
  }

  /** As the hash keeps it (JSON: no undefined fields), so a republish carries the same content. */
  private made(body: WarnBody): WarnEvent {
    return JSON.parse(JSON.stringify(this.sender.wrap(body))) as WarnEvent;
  }

  private key(runId: string): string {
    return budgetKeys(runId, this.prefix)[2];
  }

  /** The warn still owed for the run, with its envelope when one was stored; undefined when none is owed. */
  async owed(runId: string): Promise<{ event?: WarnEvent } | undefined> {
    const [pending, event] = await this.redis.hmget(this.key(runId), 'warnPending', 'warnEvent');
    if (pending === null) return undefined;
    return event ? { event: JSON.parse(event) as WarnEvent } : {};
  }

  /** Keeps the envelope about to be published; false when no warn is owed any more. */
  async keep(runId: string, env: WarnEvent): Promise<boolean> {
    return (await this.redis.eval(KEEP_IF_PENDING, 1, this.key(runId), JSON.stringify(env))) === 1;
  }

  /** The audit stream has it: no longer owed (the envelope stays, naming the event the latch implied). */
  async sent(runId: string): Promise<void> {
    await this.redis.hdel(this.key(runId), 'warnPending');
  }
}
