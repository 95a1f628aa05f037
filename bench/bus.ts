/**
 * `npm run bench -- bus`: our tell throughput and ask latency against plain nats.js publish and
 * request, in the same run against the same nats-server — in operator mode, both sides authenticated
 * with the same kind of credential (a minted user JWT). Targets: tell ≥ 0.8× raw publish;
 * ask p50 ≤ 1.2× raw request.
 *
 * Also measured: what an Ed25519 signature (nkeys) over an encoded envelope and its verification
 * cost (docs/security.md, "Envelope signatures"). Revocation has a bench of its own (`revocation`).
 */
import { createUser } from '@nats-io/nkeys';
import type { NatsConnection } from '@nats-io/transport-node';
import { echoKind } from '../actors/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus } from '../bus/index.ts';
import { fastKeyPair, nkeyVerifier } from '../infra/nats-auth/index.ts';
import { actorInbox } from '../protocols/index.ts';
import { startBenchServices } from './bench-system.ts';
import { rawConnect } from './raw-connect.ts';
import { median, report, round, summarize } from './stats.ts';

const MESSAGES = 50_000;
const ASKS = 2_000;
const ROUNDS = 5;
const SIGNATURES = 5_000;

type Body = { text: string; seq: number };

/** Throughput of `tell` against a raw publish of the same encoded envelope, per round (messages/s). */
async function tellVsPublish(raw: NatsConnection, bus: Bus, sample: Uint8Array, body: Body) {
  const rawTput: number[] = [];
  const ourTput: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) raw.publish('bench.sink', sample);
    await raw.flush();
    rawTput.push(MESSAGES / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) bus.tell('bench.sink', { type: 'demo.echo.v1', body });
    await bus.flush();
    ourTput.push(MESSAGES / ((performance.now() - t0) / 1000));
  }
  return { rawTput, ourTput };
}

/** Latency of `ask` to the echo actor against a raw request to a plain responder (ms). */
async function askVsRequest(natsUrl: string, raw: NatsConnection, bus: Bus, sample: Uint8Array, body: Body) {
  // Request/reply: a plain responder vs our echo actor. The plain responder has a connection of its
  // own, as every actor does, so both paths cross the same two sockets.
  const rawResponder = await rawConnect(natsUrl);
  rawResponder.subscribe('bench.echo', {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  await rawResponder.flush();
  const echo = await runActor(echoKind, { id: 'bench-echo', bus: { servers: natsUrl } });
  const inbox = actorInbox('echo', 'bench-echo');
  const rawLat: number[] = [];
  const ourLat: number[] = [];
  for (let i = 0; i < 200; i++) {
    await raw.request('bench.echo', sample);
    await bus.ask(inbox, { type: 'demo.echo.v1', body });
  }
  for (let i = 0; i < ASKS; i++) {
    let t0 = performance.now();
    await raw.request('bench.echo', sample, { timeout: 5000 });
    rawLat.push(performance.now() - t0);
    t0 = performance.now();
    await bus.ask(inbox, { type: 'demo.echo.v1', body });
    ourLat.push(performance.now() - t0);
  }
  await echo.stop();
  await rawResponder.close();
  return { rawLat, ourLat };
}

/** Ed25519 sign and verify of one envelope with an agent's nkey, in µs each. */
function signatures(sample: Uint8Array) {
  // Ed25519 over one encoded envelope (the size of the tell above) with an agent's nkey, as a
  // receiver would verify it against the authority's directory: node:crypto (OpenSSL), since the
  // nkeys library's pure-JS tweetnacl takes ~30 ms a signature (5,000 of them made this bench
  // look hung: it printed nothing for minutes).
  const signer = createUser();
  const fast = fastKeyPair(signer);
  const verify = nkeyVerifier(signer.getPublicKey());
  const sign = (data: Uint8Array) => fast.sign(data);
  let sig = sign(sample);
  if (!signer.verify(sample, sig)) throw new Error('node:crypto signature is not an nkey signature');
  let t0 = performance.now();
  for (let i = 0; i < SIGNATURES; i++) sig = sign(sample);
  const signUs = ((performance.now() - t0) * 1000) / SIGNATURES;
  t0 = performance.now();
  let verified = true;
  for (let i = 0; i < SIGNATURES; i++) verified = verify(sample, sig) && verified;
  const verifyUs = ((performance.now() - t0) * 1000) / SIGNATURES;
  if (!verified) throw new Error('signature did not verify');
  return { signUs, verifyUs };
}

export async function benchBus(): Promise<void> {
  // The bare bus: no JetStream streams, nothing but the two clients and the echo actor.
  const services = await startBenchServices('bus', { streams: false });
  const nats = { url: services.natsUrl, auth: services.system.services.embedded.nats!.auth };
  try {
    const step = (what: string) => console.error(`[bus] ${what}`);
    step('connecting');
    const raw = await rawConnect(nats.url);
    const bus = await Bus.connect({ servers: nats.url, name: 'bench-client' });
    const body = { text: 'x'.repeat(64), seq: 1 };
    const sample = bus.encode(bus.wrap({ type: 'demo.echo.v1', body }));
    // A subscriber on the far side, so publishes travel the whole path.
    raw.subscribe('bench.sink', { callback: () => {} });
    await raw.flush();

    step('tell vs publish');
    const { rawTput, ourTput } = await tellVsPublish(raw, bus, sample, body);

    step('ask vs request');
    const { rawLat, ourLat } = await askVsRequest(nats.url, raw, bus, sample, body);
    await bus.close();
    await raw.close();

    step('sign and verify');
    const { signUs, verifyUs } = signatures(sample);

    const raw50 = summarize(rawLat);
    const our50 = summarize(ourLat);
    const results = {
      rawPublishPerSec: Math.round(median(rawTput)),
      tellPerSec: Math.round(median(ourTput)),
      rawRequestMs: { p50: round(raw50.p50), p99: round(raw50.p99) },
      askMs: { p50: round(our50.p50), p99: round(our50.p99) },
      messages: MESSAGES,
      rounds: ROUNDS,
      asks: ASKS,
      envelopeBytes: sample.length,
      signUs: round(signUs, 1),
      verifyUs: round(verifyUs, 1),
    };
    const ratios = {
      tellVsRawPublish: round(median(ourTput) / median(rawTput)),
      askP50VsRawRequest: round(our50.p50 / raw50.p50),
      askP99VsRawRequest: round(our50.p99 / raw50.p99),
      signPlusVerifyVsAskP50: round((signUs + verifyUs) / 1000 / our50.p50),
    };
    console.log(
      `tell ${results.tellPerSec}/s vs raw publish ${results.rawPublishPerSec}/s → ${ratios.tellVsRawPublish}× (target ≥ 0.8×)`,
    );
    console.log(
      `ask p50 ${results.askMs.p50} ms vs raw request ${results.rawRequestMs.p50} ms → ${ratios.askP50VsRawRequest}× (target ≤ 1.2×)`,
    );
    console.log(
      `Ed25519 over a ${sample.length}-byte envelope: sign ${results.signUs} µs, verify ${results.verifyUs} µs (${round(ratios.signPlusVerifyVsAskP50 * 100, 1)}% of an ask p50)`,
    );
    report('bus', results, ratios);
  } finally {
    await services.stop();
  }
}
