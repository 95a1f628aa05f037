/** Shared set-up of the orchestrator suites: a nats-server, an orchestrator host, plain agents and a client. */
import { orchestratorKind } from '../../actors/orchestrator/orchestrator.ts';
import {
  type PlainAgent,
  type PlainAgentOptions,
  startPlainAgent,
} from '../../examples/agents/node/plain-agent.ts';
import { type ActorHandle, ActorRegistry, runActor } from '../../actors/runtime/index.ts';
import type { Bus } from '../../bus/index.ts';
import type { NatsServer } from '../../infra/nats-server.ts';
import type { BodyOf } from '../../protocols/catalog.ts';
import type { Envelope } from '../../protocols/envelope.ts';
import { NoRespondersError } from '../../protocols/vocabulary/errors.ts';
import { actorInbox, allObs, exitSubject, serviceSubject } from '../../protocols/subjects.ts';
import { type ProcessChild, spawnProcessChild } from '../../supervisors/process-child.ts';
import { collect, credsFor, mintFor, TestServers, testBus, waitFor } from '../harness/index.ts';

export const registry = () => new ActorRegistry().register(orchestratorKind);

export type RunEvent = BodyOf<'run.event.v1'> & { ts: number };

export class OrchestratorRig {
  readonly servers = new TestServers();
  nats!: NatsServer;
  client!: Bus;
  feed!: ReturnType<typeof collect>;
  readonly agents: PlainAgent[] = [];
  orchestrators: ActorHandle[] = [];

  async start(): Promise<this> {
    this.nats = await this.servers.nats();
    this.client = await testBus(this.nats.url);
    this.feed = collect(this.client, allObs());
    await this.feed.ready();
    this.servers.onStop(() => this.client.close());
    return this;
  }

  async orchestrator(id = 'orch-1', args: Record<string, unknown> = {}): Promise<ActorHandle> {
    const h = await runActor(orchestratorKind, {
      id,
      args,
      bus: { servers: this.nats.url },
      heartbeatMs: 200,
    });
    this.orchestrators.push(h);
    this.servers.onStop(async () => {
      await h.stop();
    });
    return h;
  }

  /**
   * An orchestrator in its own OS process, as a supervisor runs it, under `id`: each `start()` spawns
   * one more incarnation and resolves once it answers a ping (SIGKILL it through the child it
   * returns). Every incarnation is stopped with the rig.
   */
  async orchestratorProcess(id: string): Promise<{ start(): Promise<ProcessChild> }> {
    const credentials = await credsFor(this.nats, { role: 'actor', kind: 'orchestrator', id });
    return {
      start: async () => {
        const child = spawnProcessChild({
          kind: 'orchestrator',
          id,
          natsUrl: this.nats.url,
          credentials,
          env: { AGOV_NO_BUNDLE: '1' },
          stderr: 'ignore',
        });
        this.servers.onStop(() => child.stop(2_000).then(() => undefined));
        await waitFor(
          'orchestrator process answering',
          () =>
            this.client
              .ask(actorInbox('orchestrator', id), { type: 'actor.ping.v1', body: {} }, { timeoutMs: 500 })
              .then(() => true),
          60_000,
          100,
        );
        return child;
      },
    };
  }

  /**
   * Kills an in-host orchestrator (SIGKILL semantics: ActorHandle.kill) and checks the premise of
   * every test that claims a kill: it went without a word (no exit report) and nothing answers on its
   * inbox any more. Throws when the premise fails.
   */
  async kill(h: ActorHandle): Promise<void> {
    const exits = collect(this.client, exitSubject(h.kind, h.id));
    await exits.ready();
    await h.kill();
    await waitFor(`nothing answering on ${h.address}`, () =>
      this.client.ask(h.address, { type: 'actor.ping.v1', body: {} }, { timeoutMs: 300 }).then(
        () => false,
        (err: unknown) => err instanceof NoRespondersError,
      ),
    );
    await this.client.flush();
    exits.close();
    if (exits.seen.length > 0)
      throw new Error(`${h.address} published an exit report: it was stopped, not killed`);
  }

  async agent(id: string, options: Partial<PlainAgentOptions> = {}): Promise<PlainAgent> {
    const tier = options.tier ?? 'T1';
    const { creds } = await mintFor(this.nats, { role: 'agent', id, tier });
    const a = await startPlainAgent({ servers: this.nats.url, id, heartbeatMs: 100, creds, ...options });
    this.agents.push(a);
    this.servers.onStop(() => a.kill());
    return a;
  }

  async submit(
    yaml: string,
    params: Record<string, string | number | boolean> = {},
    file?: string,
    // Admission waits a bounded 5 s for agents a test just started (regression: under load a run
    // submitted right after an agent's start was refused GOV_ERR_NO_ELIGIBLE_AGENT before the
    // orchestrator had taken its registration in); 0 asks for the immediate verdict.
    waitForAgentMs = 5_000,
  ): Promise<string> {
    const reply = await this.client.ask(
      serviceSubject('orchestrator'),
      {
        type: 'run.request.v1',
        body: {
          yaml,
          params,
          ...(file ? { file } : {}),
          ...(waitForAgentMs ? { waitForAgentMs } : {}),
          requestedBy: 'test',
        },
      },
      { timeoutMs: waitForAgentMs + 5_000 },
    );
    if (reply.type !== 'run.accepted.v1') throw new Error(`unexpected ${reply.type}`);
    return reply.body.runId;
  }

  events(runId: string): RunEvent[] {
    return this.feed.seen
      .filter((e) => e.type === 'run.event.v1' && e.body.runId === runId)
      .map((e) => ({ ...(e as Envelope<'run.event.v1'>).body, ts: e.ts }));
  }

  async event(
    runId: string,
    event: BodyOf<'run.event.v1'>['event'],
    pred: (b: BodyOf<'run.event.v1'>) => boolean = () => true,
    timeoutMs = 20_000,
  ) {
    const e = await this.feed.next(
      (x) => x.type === 'run.event.v1' && x.body.runId === runId && x.body.event === event && pred(x.body),
      timeoutMs,
    );
    return (e as Envelope<'run.event.v1'>).body;
  }

  /** Resolves with the run's final event (run-succeeded, run-failed or run-cancelled). */
  async finished(runId: string, timeoutMs = 30_000) {
    return (await this.finishedEnvelope(runId, timeoutMs)).body;
  }

  /** The envelope of the run's final event: its `from` names the orchestrator that ended the run. */
  async finishedEnvelope(runId: string, timeoutMs = 30_000): Promise<Envelope<'run.event.v1'>> {
    const e = await this.feed.next(
      (x) =>
        x.type === 'run.event.v1' &&
        x.body.runId === runId &&
        ['run-succeeded', 'run-failed', 'run-cancelled'].includes(x.body.event),
      timeoutMs,
    );
    return e as Envelope<'run.event.v1'>;
  }

  async state(runId: string): Promise<BodyOf<'run.state.v1'>> {
    const r = await this.client.ask(serviceSubject('orchestrator'), { type: 'run.get.v1', body: { runId } });
    if (r.type !== 'run.state.v1') throw new Error(`unexpected ${r.type}`);
    return r.body;
  }

  /** How many times each stage of a run was started on any agent. */
  executions(runId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.agents)
      for (const t of a.started) if (t.runId === runId) out[t.stageId] = (out[t.stageId] ?? 0) + 1;
    return out;
  }

  stop(): Promise<void> {
    return this.servers.stopAll();
  }
}
