/**
 * `npm run bench -- ledger`: audited events per second from durable publish to committed-and-chained
 * in the SQLite ledger (publish N envelopes with `publishDurable`, wait until the writer's ledger
 * size reaches N), against raw JetStream publish throughput and raw better-sqlite3 inserts (WAL,
 * synchronous=FULL, batches of the writer's size, random UUID ids like envelope ids), measured in
 * the same run against the same nats-server. Target: ≥ 0.7× raw JetStream publish.
 *
 * Fairness: the raw baseline publishes envelopes of the same shape and size, as many, with the same
 * window of in-flight publishes, through the same call (`publishDurable`: msgpack, Nats-Msg-Id = the
 * envelope id) to a stream of the same configuration that nothing consumes; so the two differ only
 * by the ledger. The classic baseline (one pre-encoded payload published with short ids, no encoding
 * per message) is measured and reported too. Rounds alternate raw and ledger; medians of ROUNDS.
 * The writer runs in its own process, as deployed, from the TypeScript sources (AGOV_NO_BUNDLE:
 * a stale dist/ bundle would measure old code), spawned the way its supervisor spawns it, at the
 * priority the system spec gives it (`SYSTEM_SERVICE_NICE`): the bench measures the deployed
 * configuration. The raw baseline has no writer, so the setting cannot favour it.
 *
 * Deployed trust setup: the writer signs its checkpoints through Vault transit (the embedded dev
 * server, over HTTP, as `agov up` configures it), at least every second while events flow, and a
 * witness actor in its own process checks each checkpoint with a consistency proof from the writer and
 * cosigns it. The cost of one transit signature (request to signature, median) is measured beside a
 * local Ed25519 signature.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import Database from 'better-sqlite3';
import {
  createSigner,
  createTransitSigner,
  DEFAULT_BATCH_MAX_ENTRIES,
  DEFAULT_LEDGER_ORIGIN,
} from '../actors/ledger/index.ts';
import { setUpLedgerTrust } from '../system/ledger-trust.ts';
import { Bus } from '../bus/index.ts';
import { ensureStreams, streamDeclarations } from '../bus/index.ts';
import type { Envelope } from '../protocols/index.ts';
import { auditSubject, obsSubject, startedSubject } from '../protocols/index.ts';
import { spawnProcessChild } from '../supervisors/index.ts';
import { SYSTEM_SERVICE_NICE } from '../system/index.ts';
import { childCredentials, childPrincipal } from '../supervisors/child-credentials.ts';
import { startBenchServices } from './bench-system.ts';
import { rawConnect } from './raw-connect.ts';
import { median, report, round } from './stats.ts';

const EVENTS = 20_000;
const ROUNDS = 5;
const IN_FLIGHT = 256;
/** Both paths wait as long for a stream ack: on a loaded machine a 5 s ack timeout ended the bench. */
const ACK = { timeoutMs: 60_000 };
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

/** Runs `send(i)` for i in [0, n) with at most `window` promises in flight. */
async function pipelined(n: number, window: number, send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await send(next++);
  };
  await Promise.all(Array.from({ length: window }, worker));
}

type Child = ReturnType<typeof spawnProcessChild>;
type BenchServices = Awaited<ReturnType<typeof startBenchServices>>;

export async function benchLedger(): Promise<void> {
  // Streams: only the two the bench declares below.
  const services = await startBenchServices('ledger', { streams: false, need: { vault: true } });
  const { dir } = services;
  const dataDir = join(dir, 'data');
  const children: { writer?: Child; witness?: Child } = {};
  try {
    const bus = await Bus.connect({ servers: services.natsUrl, name: 'bench-publisher' });
    const audit = streamDeclarations()[0]!;
    await ensureStreams(bus, [audit, { ...audit, name: 'BENCHRAW', subjects: ['bench.raw.>'] }]);
    const raw = await rawConnect(services.natsUrl);
    const ledger = watchLedger(bus);
    const { signCost, writerNice } = await startWriterAndWitness(services, bus, dataDir, children);
    const rounds = await runRounds(bus, jetstream(raw), ledger, dir);
    await children.writer?.stop(10_000);
    children.writer = undefined;
    await children.witness?.stop(5_000);
    children.witness = undefined;
    await raw.close();
    await bus.close();
    reportLedger(rounds, { signCost, writerNice, cosigned: ledger.cosigned() });
  } finally {
    await children.witness?.stop(5_000);
    await children.writer?.stop(5_000);
    await services.stop();
  }
}

/** What the ledger's feed says: its size (entries committed), commits, and the witness's cosignatures. */
function watchLedger(bus: Bus) {
  let size = 0;
  let batches = 0;
  let cosigned = 0;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  bus.subscribeRaw(obsSubject('ledger', 'appended'), (m) => {
    const d = bus.decode(m.data);
    if (!d.ok || d.env.type !== 'ledger.appended.v1') return;
    size = Math.max(size, d.env.body.toSeq);
    batches++;
    for (const w of [...waiters]) {
      if (size >= w.at) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  bus.subscribeRaw(obsSubject('witness', 'cosigned'), () => {
    cosigned++;
  });
  return {
    size: () => size,
    batches: () => batches,
    cosigned: () => cosigned,
    /** Settles once the ledger holds `at` entries. */
    reached: (at: number) =>
      new Promise<void>((resolve) => (size >= at ? resolve() : waiters.push({ at, resolve }))),
  };
}

/**
 * The writer and the witness, each in its own process as deployed, the writer signing through Vault
 * transit at the system spec's priority. Put into `children` as soon as spawned, so the caller stops them.
 */
async function startWriterAndWitness(
  services: BenchServices,
  bus: Bus,
  dataDir: string,
  children: { writer?: Child; witness?: Child },
) {
  const natsUrl = services.natsUrl;
  const started = new Promise<void>((resolve) => {
    const sub = bus.subscribeRaw(startedSubject('ledger-writer', 'bench-writer'), () => {
      sub.unsubscribe();
      resolve();
    });
  });
  await bus.flush();
  if (!services.vaultAddr || !services.vaultToken) throw new Error('the bench needs the embedded Vault');
  const trust = await setUpLedgerTrust(services.vaultAddr, services.vaultToken);
  const signCost = await transitSignCost(services.vaultAddr, services.vaultToken);
  const writerNice = SYSTEM_SERVICE_NICE['ledger-writer'];
  const writer = spawnProcessChild({
    kind: 'ledger-writer',
    id: 'bench-writer',
    natsUrl,
    credentials: await childCredentials(
      natsUrl,
      undefined,
      childPrincipal('ledger-writer', 'bench-writer', {}),
    ),
    args: { dataDir, ...trust.writerArgs },
    env: { LOG_LEVEL: 'warn' },
    nice: writerNice,
    // From the sources, never a stale bundle.
    fromSource: true,
  });
  children.writer = writer;
  if (writer.niceError) throw writer.niceError; // a number for another configuration would mislead
  await started;
  children.witness = spawnProcessChild({
    kind: 'witness',
    id: 'bench-witness',
    natsUrl,
    credentials: await childCredentials(natsUrl, undefined, childPrincipal('witness', 'bench-witness', {})),
    args: { dataDir, ledgerKey: trust.publicKeyPem },
    env: { LOG_LEVEL: 'warn' },
    fromSource: true,
  });
  return { signCost, writerNice };
}

interface LedgerRounds {
  rawTput: number[];
  preEncodedTput: number[];
  ledgerTput: number[];
  batchSizes: number[];
  sqliteTput: number[];
  roundRatios: number[];
  loadStart: number;
}

/** Warm-up, then ROUNDS rounds of: pre-encoded raw publish, raw publishDurable, ledger, raw SQLite. */
async function runRounds(
  bus: Bus,
  rawJs: ReturnType<typeof jetstream>,
  ledger: ReturnType<typeof watchLedger>,
  dir: string,
): Promise<LedgerRounds> {
  const make = (i: number): Envelope =>
    bus.wrap({ type: 'demo.echo.v1', body: { text: 'x'.repeat(64), seq: i }, run: `bench-${i % 50}` });
  const payload = bus.encode(make(0));

  const rawSubject = 'bench.raw.x';

  // Warm-up of every path.
  await pipelined(1000, IN_FLIGHT, (i) => rawJs.publish('bench.raw.warm', payload, { msgID: `warm-${i}` }));
  await pipelined(1000, IN_FLIGHT, (i) => bus.publishDurable(rawSubject, make(i), ACK));
  await pipelined(1000, IN_FLIGHT, (i) => bus.publishDurable(auditSubject('bench'), make(i), ACK));
  await ledger.reached(1000);

  // The machine's load when the rounds start and end (1-minute average): on a shared 2-core machine
  // the ratio falls as the cores fill up (the writer then has no core of its own to run on).
  const out: LedgerRounds = {
    rawTput: [],
    preEncodedTput: [],
    ledgerTput: [],
    batchSizes: [],
    sqliteTput: [],
    roundRatios: [],
    loadStart: round(loadavg()[0]!),
  };
  const { rawTput, preEncodedTput, ledgerTput, batchSizes, sqliteTput, roundRatios } = out;
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    await pipelined(EVENTS, IN_FLIGHT, (i) => rawJs.publish(rawSubject, payload, { msgID: `raw-${r}-${i}` }));
    preEncodedTput.push(EVENTS / ((performance.now() - t0) / 1000));

    const rawEnvs = Array.from({ length: EVENTS }, (_, i) => make(i));
    t0 = performance.now();
    await pipelined(EVENTS, IN_FLIGHT, (i) => bus.publishDurable(rawSubject, rawEnvs[i]!, ACK));
    rawTput.push(EVENTS / ((performance.now() - t0) / 1000));

    const envs = Array.from({ length: EVENTS }, (_, i) => make(i));
    const target = ledger.size() + EVENTS;
    const batchesBefore = ledger.batches();
    t0 = performance.now();
    await pipelined(EVENTS, IN_FLIGHT, (i) => bus.publishDurable(auditSubject('bench'), envs[i]!, ACK));
    await ledger.reached(target);
    ledgerTput.push(EVENTS / ((performance.now() - t0) / 1000));
    batchSizes.push(EVENTS / (ledger.batches() - batchesBefore));
    roundRatios.push(round(ledgerTput[r]! / rawTput[r]!));
    console.log(
      `round ${r + 1}/${ROUNDS}: ledger ${Math.round(ledgerTput[r]!)}/s, raw publish ${Math.round(rawTput[r]!)}/s (pre-encoded ${Math.round(preEncodedTput[r]!)}/s) → ${roundRatios[r]}×`,
    );

    sqliteTput.push(rawSqlite(join(dir, `raw-${r}.sqlite`), EVENTS));
  }
  return out;
}

function reportLedger(
  rounds: LedgerRounds,
  run: {
    signCost: Awaited<ReturnType<typeof transitSignCost>>;
    writerNice: number | undefined;
    cosigned: number;
  },
): void {
  const { rawTput, preEncodedTput, ledgerTput, batchSizes, sqliteTput, roundRatios } = rounds;
  const { signCost, cosigned } = run;
  const results = {
    ledgerEventsPerSec: Math.round(median(ledgerTput)),
    rawJetStreamPublishPerSec: Math.round(median(rawTput)),
    rawJetStreamPreEncodedPublishPerSec: Math.round(median(preEncodedTput)),
    rawSqliteInsertsPerSec: Math.round(median(sqliteTput)),
    ledgerVsRawJetStreamPublishPerRound: roundRatios,
    events: EVENTS,
    rounds: ROUNDS,
    inFlight: IN_FLIGHT,
    writerBatchMaxEntries: DEFAULT_BATCH_MAX_ENTRIES,
    writerNice: run.writerNice ?? 0,
    meanEntriesPerCommit: Math.round(median(batchSizes)),
    signer: 'vault-transit',
    witnessCosignatures: cosigned,
    transitSignMsMedian: signCost.transitMs,
    localSignMsMedian: signCost.localMs,
    signSamples: signCost.samples,
    loadAverage1m: { start: rounds.loadStart, end: round(loadavg()[0]!) },
  };
  const ratios = {
    // Median of the per-round ratios: each round's two runs are back to back, under the same load.
    ledgerVsRawJetStreamPublish: median(roundRatios),
    ledgerVsRawJetStreamPreEncodedPublish: round(median(ledgerTput) / median(preEncodedTput)),
    ledgerVsRawSqliteInsert: round(median(ledgerTput) / median(sqliteTput)),
  };
  console.log(
    `ledger ${results.ledgerEventsPerSec} events/s (publish → committed, chained and on disk) vs raw JetStream publish ${results.rawJetStreamPublishPerSec}/s → ${ratios.ledgerVsRawJetStreamPublish}× (target ≥ 0.7×; median of ${ROUNDS} per-round ratios; writer at nice ${results.writerNice})`,
  );
  console.log(
    `ledger vs raw JetStream publish of one pre-encoded payload ${results.rawJetStreamPreEncodedPublishPerSec}/s → ${ratios.ledgerVsRawJetStreamPreEncodedPublish}×`,
  );
  console.log(
    `ledger vs raw better-sqlite3 inserts ${results.rawSqliteInsertsPerSec}/s → ${ratios.ledgerVsRawSqliteInsert}×`,
  );
  console.log(
    `checkpoint signing through Vault transit ${signCost.transitMs} ms (median of ${signCost.samples}; local Ed25519 ${signCost.localMs} ms); the witness cosigned ${cosigned} checkpoints during the run`,
  );
  console.log(
    `machine load (1-minute average) ${results.loadAverage1m.start} at the first round, ${results.loadAverage1m.end} at the end, on ${availableParallelism()} cores`,
  );
  report('ledger', results, ratios);
}

/** Plain inserts of rows shaped like ledger entries (random UUID ids), in batches of the writer's size (WAL, synchronous=FULL). */
function rawSqlite(path: string, n: number): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE entries (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, ts INTEGER, type TEXT, actor TEXT, run TEXT, body BLOB)',
  );
  const insert = db.prepare('INSERT INTO entries VALUES (?,?,?,?,?,?,?)');
  const body = Buffer.from(JSON.stringify({ text: 'x'.repeat(64), seq: 1 }));
  const ids = Array.from({ length: n }, () => randomUUID());
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++)
      insert.run(i, ids[i], Date.now(), 'demo.echo.v1', 'bench-publisher', `bench-${i % 50}`, body);
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i += DEFAULT_BATCH_MAX_ENTRIES)
    batch.immediate(i, Math.min(n, i + DEFAULT_BATCH_MAX_ENTRIES));
  const tput = n / ((performance.now() - t0) / 1000);
  db.close();
  return tput;
}

/** Median time of one checkpoint signature through Vault transit (HTTP, sign-only key) and locally. */
async function transitSignCost(
  vaultAddr: string,
  rootToken: string,
): Promise<{ transitMs: number; localMs: number; samples: number }> {
  const samples = 200;
  const transit = await createTransitSigner({
    addr: vaultAddr,
    token: rootToken,
    transitKey: 'bench-sign-cost',
    keyName: DEFAULT_LEDGER_ORIGIN,
    create: true,
  });
  const local = createSigner(SEED, DEFAULT_LEDGER_ORIGIN);
  const head = (i: number) => ({
    origin: DEFAULT_LEDGER_ORIGIN,
    size: i + 1,
    root: Buffer.alloc(32, i),
    ts: Date.now(),
  });
  const transitMs: number[] = [];
  const localMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    let t0 = performance.now();
    await transit.sign(head(i));
    transitMs.push(performance.now() - t0);
    t0 = performance.now();
    local.sign(head(i));
    localMs.push(performance.now() - t0);
  }
  return { transitMs: round(median(transitMs)), localMs: round(median(localMs)), samples };
}
