/**
 * The bus: one NATS connection of one actor (or client), speaking the protocol of protocols/.
 *
 * - `tell(subject, msg)` publishes (fire and forget);
 * - `ask(subject, msg)` is request/reply with a timeout, failing with typed errors
 *   (TimeoutError, NoRespondersError, or the remote handler's own error rebuilt from reply headers);
 * - `respond` / `respondError` answer a request once; a reply too large for the codec's cap becomes
 *   a typed GOV_ERR_PAYLOAD_TOO_LARGE reply (and a dead letter), never an exception;
 * - `emit(tokens, msg)` / `publishFeed(tokens, env)` publish on the JSON observability feed (`gov.obs.>`);
 * - `publishDurable(subject, env)` publishes to JetStream on the fast path (js-publisher.ts: the ack
 *   comes back on the bus's one reply inbox) with the envelope id as `Nats-Msg-Id`, so a retried
 *   publish is deduplicated by the stream; `durablePublisher()` is the same path for raw bytes;
 * - `consumer(decl)` opens a durable JetStream consumer (durable-consumer.ts), `keyValue(bucket)` / `objectStore(bucket)`
 *   JetStream buckets, `jetstreamManager()` declares streams (streams.ts `ensureStreams(bus)`).
 *
 * The connection itself is private: this class is the one door to NATS (docs/conventions.md). Tests
 * that must speak raw NATS (an attacker sending garbage bytes) open their own connection through the
 * test harness (`rawConnection`).
 */
import { randomUUID } from 'node:crypto';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type KV, type KvOptions, Kvm } from '@nats-io/kv';
import { type ObjectStore, type ObjectStoreOptions, Objm } from '@nats-io/obj';
import {
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { DurableConsumer } from './durable-consumer.ts';
import { JsPublisher, type PubAckLite } from './js-publisher.ts';
import { type ConsumerDeclaration, ensureConsumer } from './streams.ts';
import { type Clock, systemClock } from '../infra/clock/clock.ts';
import { ReplyMux } from './reply-mux.ts';
import { ConnectionWatch } from './connection-watch.ts';
import {
  deadLetterBody,
  EMPTY,
  never,
  silence,
  outgoingError,
  replyError,
  requestError,
  toHeaders,
} from './bus-wire.ts';
import type { MessageType } from '../protocols/catalog.ts';
import { type Codec, detectFormat, jsonCodec, msgpackCodec, type WireFormat } from '../protocols/codec.ts';
import { type AnyEnvelope, type Envelope, envelope, type OutMessage } from '../protocols/envelope.ts';
import {
  BusClosedError,
  errorFromHeaders,
  errorToHeaders,
  serializeError,
  toGovError,
} from '../protocols/vocabulary/errors.ts';
import { deadLetterFeedSubject, deadLetterSubject, obsSubject } from '../protocols/subjects.ts';
import { BusMetrics } from './bus-metrics.ts';
import {
  type BusOptions,
  DEFAULT_ASK_SWEEP_MS,
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_MAX_PAYLOAD_BYTES,
} from './bus-options.ts';
import type { AskOptions, DecodeResult, DurableOptions, TellOptions } from './bus-types.ts';
import {
  type ConnectionState,
  type CredentialHolder,
  credentialHolderOf,
  openConnection,
  principalOfConnection,
} from './connection.ts';
import type { Leased, SharedConnection } from './shared-connection.ts';

export type { AskOptions, DecodeResult, DurableOptions, IncomingContext, TellOptions } from './bus-types.ts';

export class Bus {
  private readonly nc: NatsConnection;
  readonly name: string;
  readonly metrics = new BusMetrics();
  readonly clock: Clock;
  private readonly msgpack: Codec;
  private readonly json: Codec;
  private readonly askTimeoutMs: number;
  private jsm: Promise<JetStreamManager> | undefined;
  private publisher: JsPublisher | undefined;
  private mux: ReplyMux | undefined;
  private readonly watch: ConnectionWatch;
  private killed = false;

  private constructor(
    nc: NatsConnection,
    options: BusOptions,
    watch?: ConnectionWatch,
    private readonly leased?: Leased,
  ) {
    this.nc = nc;
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.msgpack = msgpackCodec(max);
    this.json = jsonCodec(max);
    this.askTimeoutMs = options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    this.watch = watch ?? new ConnectionWatch(nc, this.metrics);
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

  /**
   * A bus on a host's shared connection (shared-connection.ts), as an in-host actor's own: its
   * subscriptions, close and kill are its own; it names itself `principal` where the broker checks
   * the name (the host's credential grants that name's subjects among its members').
   */
  static onShared(shared: SharedConnection, options: BusOptions, principal: string): Bus {
    const lease = shared.lease();
    return new Bus(lease.nc, options, shared.watch, { lease, principal });
  }

  /**
   * This connection's replaceable credential: the credential authority renews and rekeys it. None on
   * a host's shared connection: the host's credential is not one member's to replace.
   */
  credential(): CredentialHolder | undefined {
    return this.leased ? undefined : credentialHolderOf(this.nc);
  }

  /**
   * The principal this connection authenticated as (its NATS user name), or, on a server without
   * authentication, the bus name made a subject token: nobody is verified there anyway.
   */
  principal(): string {
    return (
      this.leased?.principal ??
      principalOfConnection(this.nc) ??
      (this.name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128) || 'anonymous')
    );
  }

  get state(): ConnectionState {
    return this.leased?.lease.isClosed() ? 'closed' : this.watch.state;
  }

  /** Observes connection state changes; returns an unsubscribe function. */
  onStatus(listener: (s: ConnectionState) => void): () => void {
    return this.watch.onStatus(listener);
  }

  /**
   * Observes asynchronous errors the server reports on this connection (a permissions violation:
   * the broker refused a publish or subscribe); returns an unsubscribe function.
   */
  onConnectionError(listener: (error: string) => void): () => void {
    return this.watch.onError(listener);
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

  encode(env: AnyEnvelope, format: WireFormat = 'msgpack'): Uint8Array {
    return (format === 'json' ? this.json : this.msgpack).encode(env);
  }

  /**
   * Encodes an outgoing message; one the codec refuses (past the payload cap) is dead-lettered with the
   * reason and thrown to the sender as that typed error, before anything is sent: no publish can take
   * a connection (or a host) down.
   */
  private encodeOut(subject: string, env: AnyEnvelope, format: WireFormat = 'msgpack'): Uint8Array {
    try {
      return this.encode(env, format);
    } catch (err) {
      const error = outgoingError(toGovError(err), env.type, subject);
      this.metrics.inc(`publish.refused.${error.code}`);
      this.deadLetter({ subject, data: EMPTY }, error);
      throw error;
    }
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

  /** Whether the connection is closed for good (stopped, killed, or refused). */
  isClosed(): boolean {
    return this.nc.isClosed();
  }

  private checkOpen() {
    if (this.nc.isClosed() && !this.killed) throw new BusClosedError(`bus ${this.name} is closed`);
  }

  /** Publishes a message. Returns the envelope sent. */
  tell<T extends MessageType>(subject: string, msg: OutMessage<T>, options: TellOptions = {}): Envelope<T> {
    this.checkOpen();
    const env = this.wrap(msg, options.inResponseTo);
    this.nc.publish(subject, this.encodeOut(subject, env, options.encoding), {
      headers: toHeaders(options.headers),
    });
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
    if (this.killed) return never();
    this.checkOpen();
    const env = this.wrap(msg, options.inResponseTo);
    const timeout = options.timeoutMs ?? this.askTimeoutMs;
    let reply: Msg;
    try {
      // One reply inbox for every ask of this bus (reply-mux.ts), not nc.request: nats.js builds a
      // request context, a timer and stack-traced Errors per request, ~35 µs on our machines.
      reply = await this.replies().request(
        subject,
        this.encodeOut(subject, env, options.encoding),
        timeout,
        toHeaders(options.headers),
      );
    } catch (err) {
      if (this.killed) return never();
      throw requestError(err, subject, timeout, this.name);
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

  /**
   * Replies to a request with a message, in the request's own wire format. A reply the codec refuses
   * (past the payload cap) is answered with that typed error instead and dead-lettered (the request's
   * subject, the reason): the asker learns why, and no reply can throw out of the runtime.
   */
  respond(to: Msg, msg: OutMessage, inResponseTo?: Envelope): void {
    if (!to.reply) return;
    const env = this.wrap(msg, inResponseTo);
    let bytes: Uint8Array;
    try {
      bytes = this.encode(env, detectFormat(to.data));
    } catch (err) {
      const error = toGovError(err);
      this.metrics.inc(`reply.refused.${error.code}`);
      this.deadLetter({ subject: to.subject, data: EMPTY }, replyError(error, msg.type));
      this.respondError(to, replyError(error, msg.type));
      return;
    }
    this.send(() => to.respond(bytes));
  }

  /** Replies to a request with a typed error in headers (empty body). */
  respondError(to: Msg, error: unknown): void {
    if (!to.reply) return;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(errorToHeaders(error))) h.set(k, v);
    this.send(() => to.respond(EMPTY, { headers: h }));
  }

  /** A reply on a connection that closed meanwhile is lost like any reply to a dead asker: counted, not thrown. */
  private send(fn: () => void) {
    if (this.killed) return; // a reply goes round the connection (Msg.respond): a dead actor's must not
    try {
      fn();
    } catch (err) {
      this.metrics.inc(`reply.lost.${toGovError(err).code}`);
    }
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
    const { body, payload, truncated } = deadLetterBody(msg, reason, this.name);
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
   * Publishes on the external observability feed, as JSON.
   * @example bus.emit(['run', runId], { type: 'demo.echoed.v1', body })
   */
  emit<T extends MessageType>(tokens: [string, ...string[]], msg: OutMessage<T>): Envelope<T> {
    this.checkOpen();
    const env = this.wrap(msg);
    const subject = obsSubject(...tokens);
    this.nc.publish(subject, this.encodeOut(subject, env, 'json'));
    this.metrics.inc('emitted');
    return env;
  }

  /**
   * Publishes an envelope already made (`wrap`) on the feed, as JSON, or bytes already encoded for
   * it (`encode(env, 'json')`): for events that also go to the audit stream under the same id.
   */
  publishFeed(tokens: [string, ...string[]], env: AnyEnvelope | Uint8Array): void {
    this.checkOpen();
    const subject = obsSubject(...tokens);
    this.nc.publish(subject, env instanceof Uint8Array ? env : this.encodeOut(subject, env, 'json'));
    this.metrics.inc('emitted');
  }

  /**
   * The durable publish path: a JetStream publish whose ack comes back on this bus's one reply inbox
   * (js-publisher.ts), for bytes already encoded (a KV record, a pre-encoded audit event).
   */
  durablePublisher(): JsPublisher {
    this.publisher ??= new JsPublisher(this.replies(), this.askTimeoutMs);
    return this.publisher;
  }

  /**
   * Publishes an envelope to the JetStream stream that holds `subject` and resolves with the stream's
   * ack. The envelope id is the `Nats-Msg-Id`, so publishing the same envelope twice is stored once.
   */
  async publishDurable(subject: string, env: AnyEnvelope, options: DurableOptions = {}): Promise<PubAckLite> {
    if (this.killed) return never();
    this.checkOpen();
    const data = this.encodeOut(subject, env);
    const publisher =
      options.timeoutMs === undefined
        ? this.durablePublisher()
        : new JsPublisher(this.replies(), options.timeoutMs);
    return publisher.publish(subject, data, options.msgId ?? env.id);
  }

  /** JetStream administration on this connection (declaring streams: `ensureStreams(bus)`). */
  jetstreamManager(): Promise<JetStreamManager> {
    if (this.killed) return never();
    this.jsm ??= jetstreamManager(this.nc);
    return this.jsm;
  }

  /**
   * Opens a JetStream KV bucket on this connection, declaring it when missing (safe from every process:
   * an existing bucket is opened as it is).
   */
  keyValue(bucket: string, options: Partial<KvOptions> = {}): Promise<KV> {
    if (this.killed) return never();
    this.checkOpen();
    return new Kvm(this.nc).create(bucket, options);
  }

  /** Opens a JetStream object store on this connection, declaring it when missing. */
  objectStore(bucket: string, options: Partial<ObjectStoreOptions> = {}): Promise<ObjectStore> {
    if (this.killed) return never();
    this.checkOpen();
    return new Objm(this.nc).create(bucket, options);
  }

  /**
   * A durable JetStream consumer: declared (created, or its changeable settings updated) unless
   * `declare` is false, then opened (durable-consumer.ts).
   */
  async consumer(decl: ConsumerDeclaration, options: { declare?: boolean } = {}): Promise<DurableConsumer> {
    if (this.killed) return never();
    if (options.declare !== false) await ensureConsumer(this, decl);
    const js = (await this.jetstreamManager()).jetstream();
    return new DurableConsumer(this, await js.consumers.get(decl.stream, decl.config.durable_name));
  }

  /** Flushes pending publishes to the server. */
  flush(): Promise<void> {
    if (this.killed) return never();
    return this.nc.flush();
  }

  /**
   * Ends the connection as a process's death would, for an actor killed in its host: no drain, no
   * unsubscribe, nothing pending flushed (what was already handed to the socket may still leave), and
   * from now on whatever of the dead actor's code still runs talks into a void, without the actor's
   * help: publishes (message acks too) vanish, and asks, flushes, durable publishes and JetStream
   * calls never settle, so code awaiting the bus never resumes, as in a dead process. On a host's
   * shared connection only this actor's lease ends (ConnectionLease.kill).
   */
  async kill(): Promise<void> {
    if (this.killed) return;
    this.killed = true;
    this.mux?.abandon();
    if (this.leased) return this.leased.lease.kill(); // host-mates keep the connection
    silence(this.nc);
    if (!this.nc.isClosed()) await this.nc.close();
  }

  /** Whether `kill()` ended this bus. */
  isKilled(): boolean {
    return this.killed;
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
