/**
 * Task progress and results from the RESULTS stream (`gov.results.orchestrator.<agentId>`, the `replyTo` of our
 * assigns), through the durable consumer every orchestrator instance shares.
 *
 * Agents tell their reports to `replyTo` with a plain publish; the stream keeps them while no
 * orchestrator runs. Each message is put into the actor's own mailbox (`ctx.self`), so it is handled
 * in order with everything else, under a fresh envelope id that maps back to the JetStream message:
 * the handler acks it (`settle`) once the state change it caused is stored. Progress is acked at once
 * (it changes nothing anyone acts on). A message not acked within the consumer's ack wait (its
 * orchestrator died) is delivered again; a duplicate result is ignored by taskId.
 */
import { randomUUID } from 'node:crypto';
import {
  type Consuming,
  type DurableConsumer,
  type JsMsg,
  orchestratorResultsConsumer,
} from '../../bus/index.ts';
import { refusedReport, verifiedReportSender } from '../../protocols/agent-identity.ts';
import type { OutMessage } from '../../protocols/envelope.ts';
import { ForbiddenError } from '../../protocols/vocabulary/errors.ts';
import { publishForgedReport } from './forged-reports.ts';
import type { ActorContext } from '../runtime/actor-kind.ts';
import { DEFAULT_RESULTS_FETCH_EXPIRES_MS } from './options.ts';
import type { Outbox } from './outbox.ts';

export interface ResultsConsumerSettings {
  durable: string;
  ackWaitMs: number;
  maxAckPending: number;
  batch: number;
  retryMs: number;
}

export class ResultsConsumer {
  /** Envelope id given in our mailbox → the JetStream message to ack. */
  private readonly unsettled = new Map<string, JsMsg>();
  private messages: Consuming | undefined;
  private closed = false;

  private constructor(
    private readonly ctx: ActorContext,
    private readonly consumer: DurableConsumer,
    private readonly settings: ResultsConsumerSettings,
    private readonly outbox: Outbox,
  ) {}

  /** Declares the durable consumer (the stream is declared by ensureStreams) and opens it. */
  static async open(
    ctx: ActorContext,
    settings: ResultsConsumerSettings,
    outbox: Outbox,
  ): Promise<ResultsConsumer> {
    const consumer = await ctx.bus.consumer(
      orchestratorResultsConsumer({
        durable: settings.durable,
        ackWaitMs: settings.ackWaitMs,
        maxAckPending: settings.maxAckPending,
      }),
    );
    return new ResultsConsumer(ctx, consumer, settings, outbox);
  }

  /**
   * Puts the reports that waited in the stream (sent while no orchestrator ran) into the mailbox,
   * then keeps consuming. Called before the actor subscribes, so the waiting results are handled
   * before any heartbeat that would make their agents look idle without them.
   */
  async start(): Promise<void> {
    await this.consumer.backlog(
      this.settings.batch,
      (m) => this.take(m),
      () => this.closed,
      DEFAULT_RESULTS_FETCH_EXPIRES_MS,
    );
    if (this.closed) return;
    this.messages = await this.consumer.consume(this.settings.batch, (m) => this.take(m));
  }

  private take(m: JsMsg) {
    const decoded = this.ctx.bus.decode(m.data);
    if (
      !decoded.ok ||
      (decoded.env.type !== 'agent.task.result.v1' && decoded.env.type !== 'agent.task.progress.v1')
    ) {
      this.ctx.log.warn('dropping an undecodable or foreign message from the results stream', {
        seq: m.seq,
        subject: m.subject,
      });
      m.term();
      return;
    }
    const env = decoded.env;
    if (!this.fromItsAgent(m, env)) return;
    const id = randomUUID();
    if (env.type === 'agent.task.progress.v1') m.ack();
    else this.unsettled.set(id, m);
    const out = { type: env.type, body: env.body, id, corr: env.corr ?? env.id, cause: env.id } as OutMessage;
    if (env.run !== undefined) out.run = env.run;
    this.ctx.self(out);
  }

  /**
   * Whether the report names the agent its subject does (`gov.results.orchestrator.<agentId>`, where
   * only that agent may publish): a forgery is dropped from the stream, published and audited.
   */
  private fromItsAgent(
    m: JsMsg,
    env: { id: string; type: string; body: { agentId: string; runId: string } },
  ) {
    try {
      verifiedReportSender(m.subject, env.body, env.type);
      return true;
    } catch (err) {
      if (!(err instanceof ForbiddenError)) throw err;
      publishForgedReport(this.ctx, refusedReport(err, this.ctx.bus.name), env.id);
      m.term();
      return false;
    }
  }

  /** Whether the message with this envelope id came from the stream and awaits its ack. */
  has(envelopeId: string): boolean {
    return this.unsettled.has(envelopeId);
  }

  /**
   * Acks the message once `done` resolves (the change it caused is stored, or it was handed over);
   * if `done` rejects it is delivered again after a pause.
   */
  settle(envelopeId: string, done: Promise<unknown>) {
    const m = this.unsettled.get(envelopeId);
    if (!m) return;
    this.unsettled.delete(envelopeId);
    done.then(
      () => this.outbox.defer(() => this.safely(() => m.ack())),
      () => this.safely(() => m.nak(this.settings.retryMs)),
    );
  }

  private safely(fn: () => void) {
    this.consumer.settle(this.ctx.log, fn);
  }

  /** Stops consuming; results taken but not handled yet are given back at once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.messages?.stop();
    for (const m of this.unsettled.values()) this.safely(() => m.nak());
    this.unsettled.clear();
  }
}
