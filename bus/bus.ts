/**
 * The bus: one NATS connection of one actor (or client), speaking the protocol of protocols/.
 *
 * - `tell(subject, msg)` publishes (fire and forget);
 * - `ask(subject, msg)` is request/reply with a timeout, failing with typed errors
 *   (TimeoutError, NoRespondersError, or the remote handler's own error rebuilt from reply headers);
 * - `serve(subject, handler)` decodes, validates and answers; anything undecodable or invalid is
 *   dead-lettered on `gov.dlq.<code>` with its reason, counted, and answered with a typed error —
 *   it never reaches the handler and never kills the receiver;
 * - `emit(category, tokens, msg)` publishes on the JSON observability feed (`gov.obs.>`);
 * - `publishDurable(subject, msg)` publishes to JetStream with the envelope id as `Nats-Msg-Id`,
 *   so a retried publish is deduplicated by the stream.
 */
import { randomUUID } from 'node:crypto';
import { type JetStreamClient, jetstream, type PubAck } from '@nats-io/jetstream';
import { type KV, type KvOptions, Kvm } from '@nats-io/kv';
import { type ObjectStore, type ObjectStoreOptions, Objm } from '@nats-io/obj';
import {
  errors as natsErrors,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { type Clock, systemClock } from '../infra/clock.ts';
import { ReplyMux } from './reply-mux.ts';
import { type BodyOf, type MessageType, SECRET_MESSAGE_TYPES } from '../protocols/catalog.ts';
import { type Codec, decodeRaw, detectFormat, jsonCodec, msgpackCodec } from '../protocols/codec.ts';
import { type AnyEnvelope, type Envelope, envelope, type OutMessage } from '../protocols/envelope.ts';
import {
  BusClosedError,
  errorFromHeaders,
  errorToHeaders,
  type GovError,
  NoRespondersError,
  serializeError,
  TimeoutError,
  toGovError,
  UnhandledMessageError,
  UnknownSubjectError,
} from '../protocols/errors.ts';
import {
  deadLetterFeedSubject,
  deadLetterSubject,
  isKnownSubject,
  obsSubject,
} from '../protocols/subjects.ts';
import { BusMetrics } from './bus-metrics.ts';
import {
  type BusOptions,
  DEFAULT_ASK_SWEEP_MS,
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_DEAD_LETTER_MAX_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
} from './bus-options.ts';
import { type ConnectionState, openConnection } from './connection.ts';

/** What a handler learns about the message besides its envelope. */
export interface IncomingContext {
  subject: string;
  /** Present when the sender asked (expects a reply). */
  reply: string | undefined;
  headers: MsgHdrs | undefined;
  size: number;
}

export type Handler = (
  env: Envelope,
  ctx: IncomingContext,
) => Promise<OutMessage | undefined | void> | OutMessage | undefined | void;

export interface ServeOptions {
  queue?: string;
  /** Message types the handler accepts; anything else gets GOV_ERR_UNHANDLED_MESSAGE. */
  accepts?: readonly MessageType[];
}

export interface TellOptions {
  headers?: Record<string, string>;
  /** The message this one answers or was caused by: copies its correlation id and sets `cause`. */
  inResponseTo?: Envelope;
}

export interface AskOptions extends TellOptions {
  timeoutMs?: number;
}

export type DecodeResult = { ok: true; env: Envelope } | { ok: false; error: GovError };

export class Bus {
  readonly nc: NatsConnection;
  readonly name: string;
  readonly metrics = new BusMetrics();
  readonly clock: Clock;
  private readonly msgpack: Codec;
  private readonly json: Codec;
  private readonly askTimeoutMs: number;
  private js: JetStreamClient | undefined;
  private mux: ReplyMux | undefined;
  private stateValue: ConnectionState = 'connected';
  private readonly statusListeners = new Set<(s: ConnectionState) => void>();

  private constructor(nc: NatsConnection, options: BusOptions) {
    this.nc = nc;
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.msgpack = msgpackCodec(max);
    this.json = jsonCodec(max);
    this.askTimeoutMs = options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    void this.watchStatus();
  }

  /** Connects (waiting for the server if it is not up yet) and returns a ready bus. */
  static async connect(options: BusOptions): Promise<Bus> {
    const nc = await openConnection({
      servers: options.servers,
      name: options.name,
      credentials: options.credentials,
      reconnectWaitMs: options.reconnectWaitMs,
    });
    return new Bus(nc, options);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Observes connection state changes; returns an unsubscribe function. */
  onStatus(listener: (s: ConnectionState) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setState(s: ConnectionState) {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.metrics.inc(`connection.${s}`);
    for (const l of this.statusListeners) l(s);
  }

  private async watchStatus() {
    const closed = this.nc.closed().then(() => this.setState('closed'));
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.setState('disconnected');
      else if (s.type === 'reconnecting') this.setState('reconnecting');
      else if (s.type === 'reconnect') this.setState('connected');
    }
    await closed;
  }

  /** Fills in the envelope for an outgoing message. */
  wrap<T extends MessageType>(msg: OutMessage<T>, inResponseTo?: Envelope): Envelope<T> {
    return envelope(msg, {
      from: this.name,
      ts: this.clock.now(),
      corr: inResponseTo ? (inResponseTo.corr ?? inResponseTo.id) : undefined,
      cause: inResponseTo?.id,
      run: inResponseTo?.run,
    });
  }

  encode(env: AnyEnvelope, format: 'msgpack' | 'json' = 'msgpack'): Uint8Array {
    return (format === 'json' ? this.json : this.msgpack).encode(env);
  }

  /** Decodes and validates a raw message, counting failures. */
  decode(data: Uint8Array): DecodeResult {
    try {
      return { ok: true, env: this.msgpack.decode(data) };
    } catch (err) {
      const error = toGovError(err);
      this.metrics.inc(`rejected.${error.code}`);
      return { ok: false, error };
    }
  }

  private checkOpen() {
    if (this.nc.isClosed()) throw new BusClosedError(`bus ${this.name} is closed`);
  }

  /** Publishes a message. Returns the envelope sent. */
  tell<T extends MessageType>(subject: string, msg: OutMessage<T>, options: TellOptions = {}): Envelope<T> {
    this.checkOpen();
    const env = this.wrap(msg, options.inResponseTo);
    this.nc.publish(subject, this.encode(env), { headers: toHeaders(options.headers) });
    this.metrics.inc('sent');
    return env;
  }

  /**
   * Request/reply. Resolves with the reply envelope; rejects with the remote's typed error,
   * NoRespondersError (nobody listens: fails fast) or TimeoutError.
   *
   * @example
   * const pong = await bus.ask(actorInbox('echo', 'e1'), { type: 'actor.ping.v1', body: {} });
   */
  async ask<T extends MessageType>(
    subject: string,
    msg: OutMessage<T>,
    options: AskOptions = {},
  ): Promise<Envelope> {
    this.checkOpen();
    const env = this.wrap(msg, options.inResponseTo);
    const timeout = options.timeoutMs ?? this.askTimeoutMs;
    let reply: Msg;
    try {
      // One reply inbox for every ask of this bus (reply-mux.ts), not nc.request: nats.js builds a
      // request context, a timer and stack-traced Errors per request, ~35 µs on our machines.
      reply = await this.replies().request(subject, this.encode(env), timeout, toHeaders(options.headers));
    } catch (err) {
      throw this.translateRequestError(err, subject, timeout);
    }
    this.metrics.inc('asked');
    return this.readReply(reply);
  }

  /** Turns a reply message into its envelope, or throws the error it carries. */
  readReply(reply: Msg): Envelope {
    const remote = errorFromHeaders((n) => reply.headers?.get(n) || undefined);
    if (remote) throw remote;
    const decoded = this.decode(reply.data);
    if (!decoded.ok) throw decoded.error;
    return decoded.env;
  }

  private translateRequestError(err: unknown, subject: string, timeoutMs: number): GovError {
    // The reply inbox rejects with our own NoRespondersError / TimeoutError / BusClosedError; only a
    // publish on a closed connection throws nats.js's error.
    if (err instanceof NoRespondersError) {
      if (!isKnownSubject(subject)) {
        return new UnknownSubjectError(`${subject} is not a subject of the protocol (see docs/protocol.md)`, {
          cause: err,
          details: { subject },
        });
      }
      return new NoRespondersError(`no actor is listening on ${subject}`, {
        cause: err,
        details: { subject },
      });
    }
    if (err instanceof TimeoutError) {
      return new TimeoutError(`no reply from ${subject} within ${timeoutMs} ms`, {
        cause: err,
        details: { subject, timeoutMs },
      });
    }
    if (err instanceof natsErrors.ClosedConnectionError)
      return new BusClosedError(`bus ${this.name} is closed`, { cause: err });
    return toGovError(err);
  }

  /** Replies to a request with a message, in the request's own wire format. */
  respond(to: Msg, msg: OutMessage, inResponseTo?: Envelope): void {
    if (!to.reply) return;
    const env = this.wrap(msg, inResponseTo);
    to.respond(this.encode(env, detectFormat(to.data)));
  }

  /** Replies to a request with a typed error in headers (empty body). */
  respondError(to: Msg, error: unknown): void {
    if (!to.reply) return;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(errorToHeaders(error))) h.set(k, v);
    to.respond(new Uint8Array(0), { headers: h });
  }

  /**
   * Publishes a dead letter for a message that could not be processed, with its reason and
   * (up to 64 KiB of) its original bytes, on `gov.dlq.<code>` (msgpack), and a summary of it —
   * encoding, type, id, sender, run, never the bytes — on the JSON feed, `gov.obs.dlq.<code>`, so an
   * observer with no msgpack library sees it too.
   */
  deadLetter(msg: Pick<Msg, 'subject' | 'data'>, error: unknown): void {
    const reason = serializeError(error);
    this.metrics.inc('dead-lettered');
    this.metrics.inc(`dead-lettered.${reason.code}`);
    if (this.nc.isClosed()) return;
    const summary = summarise(msg.data);
    // A secret-bearing message that could not be delivered is dead-lettered without its bytes.
    const secret = summary.type !== undefined && SECRET_MESSAGE_TYPES.has(summary.type);
    const truncated = secret || msg.data.length > DEFAULT_DEAD_LETTER_MAX_BYTES;
    const payload = secret
      ? ''
      : Buffer.from(msg.data.subarray(0, DEFAULT_DEAD_LETTER_MAX_BYTES)).toString('base64');
    const body = { subject: msg.subject, receivedBy: this.name, reason, size: msg.data.length, summary };
    const env = this.wrap({ type: 'dead-letter.v1', body: { ...body, payload, truncated } });
    this.nc.publish(deadLetterSubject(reason.code), this.msgpack.encode(env));
    const feed = this.wrap({ type: 'dead-letter.v1', body: { ...body, payload: '', truncated: true } });
    this.nc.publish(deadLetterFeedSubject(reason.code), this.json.encode(feed));
  }

  /**
   * Subscribes with a raw callback. Used by the actor runtime (which has its own mailbox);
   * most code wants `serve`.
   */
  subscribeRaw(
    subject: string,
    callback: (msg: Msg) => void,
    options: { queue?: string } = {},
  ): Subscription {
    this.checkOpen();
    return this.nc.subscribe(subject, {
      queue: options.queue,
      callback: (err, msg) => {
        if (err) {
          this.metrics.inc('subscription.error');
          return;
        }
        callback(msg);
      },
    });
  }

  /**
   * Serves a subject: each message is decoded, validated, handed to `handler` one at a time in arrival
   * order, and answered with the handler's return value (when the sender asked). A handler error is
   * returned to the asker as a typed error; bad input is dead-lettered. The subscription survives both.
   */
  serve(subject: string, handler: Handler, options: ServeOptions = {}): Subscription {
    let chain = Promise.resolve();
    return this.subscribeRaw(
      subject,
      (msg) => {
        chain = chain.then(() => this.dispatch(msg, handler, options.accepts));
      },
      { queue: options.queue },
    );
  }

  private async dispatch(msg: Msg, handler: Handler, accepts?: readonly MessageType[]) {
    this.metrics.inc('received');
    const decoded = this.decode(msg.data);
    if (!decoded.ok) {
      this.deadLetter(msg, decoded.error);
      this.respondError(msg, decoded.error);
      return;
    }
    const env = decoded.env;
    if (accepts && !accepts.includes(env.type)) {
      const error = new UnhandledMessageError(`${msg.subject} does not handle ${env.type}`, {
        details: { type: env.type, accepts },
      });
      this.metrics.inc(`rejected.${error.code}`);
      this.deadLetter(msg, error);
      this.respondError(msg, error);
      return;
    }
    try {
      const out = await handler(env, {
        subject: msg.subject,
        reply: msg.reply,
        headers: msg.headers,
        size: msg.data.length,
      });
      if (out) this.respond(msg, out, env);
      else if (msg.reply) this.respond(msg, { type: 'ack.v1', body: { ok: true } }, env);
    } catch (err) {
      this.metrics.inc('handler.error');
      this.respondError(msg, err);
    }
  }

  /**
   * Publishes on the external observability feed, as JSON.
   * @example bus.emit(['run', runId], { type: 'demo.echoed.v1', body })
   */
  emit<T extends MessageType>(tokens: [string, ...string[]], msg: OutMessage<T>): Envelope<T> {
    this.checkOpen();
    const env = this.wrap(msg);
    this.nc.publish(obsSubject(...tokens), this.json.encode(env));
    this.metrics.inc('emitted');
    return env;
  }

  jetstream(): JetStreamClient {
    this.js ??= jetstream(this.nc);
    return this.js;
  }

  /**
   * Opens a JetStream KV bucket on this connection, declaring it when missing (safe from every process:
   * an existing bucket is opened as it is).
   */
  keyValue(bucket: string, options: Partial<KvOptions> = {}): Promise<KV> {
    this.checkOpen();
    return new Kvm(this.nc).create(bucket, options);
  }

  /** Opens a JetStream object store on this connection, declaring it when missing. */
  objectStore(bucket: string, options: Partial<ObjectStoreOptions> = {}): Promise<ObjectStore> {
    this.checkOpen();
    return new Objm(this.nc).create(bucket, options);
  }

  /**
   * Publishes to a JetStream stream and waits for the stream's ack. The envelope id is the
   * `Nats-Msg-Id`, so publishing the same envelope twice is stored once.
   */
  async publishDurable(
    subject: string,
    env: AnyEnvelope,
    options: { timeoutMs?: number } = {},
  ): Promise<PubAck> {
    this.checkOpen();
    return this.jetstream().publish(subject, this.msgpack.encode(env), {
      msgID: env.id,
      timeout: options.timeoutMs ?? this.askTimeoutMs,
    });
  }

  /** Flushes pending publishes to the server. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  /** Drains subscriptions and closes the connection. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }

  /**
   * This bus's one reply inbox (opened on first use): `ask` goes through it, and so can other
   * request-shaped publishes on this connection (JetStream publishes waiting for their ack). Closed,
   * its sweep timer stopped and pending requests failed, with the connection.
   */
  replies(): ReplyMux {
    if (!this.mux) {
      // Real time, whatever clock the owner injected: a ManualClock must not freeze ask timeouts.
      const mux = new ReplyMux(this.nc, systemClock, DEFAULT_ASK_SWEEP_MS);
      void this.nc.closed().then(() => mux.close());
      this.mux = mux;
    }
    return this.mux;
  }

  /** A fresh unique id (for envelopes and run ids). */
  static newId(): string {
    return randomUUID();
  }
}

/** What a dead letter's bytes were, as far as they decode; never their content. */
function summarise(data: Uint8Array): NonNullable<BodyOf<'dead-letter.v1'>['summary']> {
  const format = detectFormat(data);
  try {
    const v = decodeRaw(data, Number.POSITIVE_INFINITY) as Record<string, unknown> | null;
    const str = (x: unknown) => (typeof x === 'string' ? x.slice(0, 256) : undefined);
    if (!v || typeof v !== 'object') return { format };
    return Object.fromEntries(
      Object.entries({ format, type: str(v.type), id: str(v.id), from: str(v.from), run: str(v.run) }).filter(
        ([, x]) => x !== undefined,
      ),
    ) as { format: typeof format };
  } catch {
    return { format };
  }
}

function toHeaders(h: Record<string, string> | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}
