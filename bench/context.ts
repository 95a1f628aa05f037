/**
 * `npm run bench -- context`: external memory's log/fetch throughput against raw JetStream object
 * store put/get (same server, same blobs), and checkpoint time against the number of runs and agents
 * (the orchestrator and the agent directory are stand-ins answering with N runs / N agents; the other
 * sources are absent and fail fast).
 */
import { StorageType } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { checkpointKind, memoryKind } from '../actors/context/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus } from '../bus/index.ts';
import { ACTOR_KIND, contextSubject, serviceQueue, serviceSubject } from '../protocols/index.ts';
import { serve } from '../test/harness/serve.ts';
import { startBenchServices } from './bench-system.ts';
import { rawConnect } from './raw-connect.ts';
import { median, report, round } from './stats.ts';

const BLOBS = 200;
const BLOB_BYTES = 16 * 1024;
const ROUNDS = 3;
const SIZES = [10, 100, 500];
const CHECKPOINTS_PER_SIZE = 5;

function blob(i: number, round: number): string {
  const line = `r${round} blob ${i} ${'lorem ipsum dolor sit amet '.repeat(3)}\n`;
  return line.repeat(Math.ceil(BLOB_BYTES / line.length)).slice(0, BLOB_BYTES);
}

export async function benchContext(): Promise<void> {
  const services = await startBenchServices('context');
  try {
    const bus = { servers: services.natsUrl };
    const memory = await runActor(memoryKind, { id: 'memory-bench', bus, args: { retentionMs: 0 } });
    const checkpoint = await runActor(checkpointKind, {
      id: 'checkpoint-bench',
      bus,
      args: { everyMs: 0, sourceTimeoutMs: 2_000, keep: 1000 },
    });
    const client = await Bus.connect({
      servers: services.natsUrl,
      name: 'bench-context',
      askTimeoutMs: 30_000,
    });
    const raw = await rawConnect(services.natsUrl);
    const os = await new Objm(raw).create('bench-raw', { storage: StorageType.File });
    const enc = new TextEncoder();

    const rawPut: number[] = [];
    const rawGet: number[] = [];
    const ourPut: number[] = [];
    const ourGet: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const texts = Array.from({ length: BLOBS }, (_, i) => blob(i, r));
      let t0 = performance.now();
      for (let i = 0; i < BLOBS; i++) await os.putBlob({ name: `r${r}-${i}` }, enc.encode(texts[i]!));
      rawPut.push(BLOBS / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      for (let i = 0; i < BLOBS; i++) await os.getBlob(`r${r}-${i}`);
      rawGet.push(BLOBS / ((performance.now() - t0) / 1000));
      const ids: string[] = [];
      t0 = performance.now();
      for (let i = 0; i < BLOBS; i++) {
        // Writes go where the broker vouches for the writer's tier and name (gov.ctx.memory.<tier>.<self>).
        const e = await client.ask(contextSubject(ACTOR_KIND.memory, 'T2', client.principal()), {
          type: 'memory.put.v1',
          body: { content: texts[i]!, tags: ['bench'] },
        });
        ids.push((e.body as { id: string }).id);
      }
      ourPut.push(BLOBS / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      for (const id of ids)
        await client.ask(serviceSubject(ACTOR_KIND.memory), { type: 'memory.get.v1', body: { id } });
      ourGet.push(BLOBS / ((performance.now() - t0) / 1000));
    }

    // Checkpoint time against fleet size: stand-ins answer with n runs and n agents.
    let n = 0;
    const run = (i: number) => ({
      runId: `run-${i}`,
      pipeline: 'bench',
      status: 'running' as const,
      params: {},
      createdAt: 1,
      stages: ['a', 'b', 'c'].map((s) => ({ stageId: s, status: 'running' as const, attempt: 1 })),
    });
    const agent = (i: number) => ({ agentId: `agent-${i}`, state: 'idle', tier: 'T1' as const, restarts: 0 });
    serve(
      client,
      serviceSubject(ACTOR_KIND.orchestrator),
      (env) =>
        env.type === 'run.list.v1'
          ? {
              type: 'run.states.v1',
              body: {
                runs: env.body.status === 'running' ? Array.from({ length: n }, (_, i) => run(i)) : [],
              },
            }
          : undefined,
      { queue: serviceQueue(ACTOR_KIND.orchestrator) },
    );
    serve(
      client,
      serviceSubject(ACTOR_KIND.agentDirectory),
      () => ({ type: 'agent.states.v1', body: { agents: Array.from({ length: n }, (_, i) => agent(i)) } }),
      { queue: serviceQueue(ACTOR_KIND.agentDirectory) },
    );
    await client.flush();
    const checkpointMs: Record<string, number> = {};
    for (const size of SIZES) {
      n = size;
      const samples: number[] = [];
      for (let k = 0; k < CHECKPOINTS_PER_SIZE; k++) {
        const t0 = performance.now();
        await client.ask(serviceSubject(ACTOR_KIND.checkpoint), { type: 'checkpoint.take.v1', body: {} });
        samples.push(performance.now() - t0);
      }
      checkpointMs[`runs=${size},agents=${size}`] = round(median(samples), 1);
    }

    await raw.close();
    await client.close();
    await checkpoint.stop();
    await memory.stop();
    const first = checkpointMs[`runs=${SIZES[0]},agents=${SIZES[0]}`]!;
    const last = checkpointMs[`runs=${SIZES.at(-1)},agents=${SIZES.at(-1)}`]!;
    report(
      'context',
      {
        blobBytes: BLOB_BYTES,
        blobs: BLOBS,
        rounds: ROUNDS,
        rawPutPerSec: round(median(rawPut), 0),
        memoryLogPerSec: round(median(ourPut), 0),
        rawGetPerSec: round(median(rawGet), 0),
        memoryFetchPerSec: round(median(ourGet), 0),
        checkpointMedianMs: checkpointMs,
      },
      {
        logVsRawPut: round(median(ourPut) / median(rawPut), 2),
        fetchVsRawGet: round(median(ourGet) / median(rawGet), 2),
        checkpointLargestVsSmallest: round(last / first, 2),
      },
    );
  } finally {
    await services.stop();
  }
}
