/**
 * The composition root: one way to start a whole system in this process, used by `agov up`,
 * `agov run`, the chaos runner, the benches and the test harness.
 *
 * 1. services: the ones given, else embedded ones under `dataDir` (infra/services.ts);
 * 2. a client bus and the JetStream streams;
 * 3. the root supervisor with the system spec (services and teams), a spec of the caller's, or none.
 *
 * Children learn where the services are from their child spec (start arguments; a process child's
 * spec may add environment variables): nothing here edits `process.env`.
 */
import { setUpLedgerTrust } from './ledger-trust.ts';
import { childCredentials, childPrincipal } from '../supervisors/child-credentials.ts';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorHandle } from '../actors/runtime/index.ts';
import { runActor } from '../actors/runtime/index.ts';
import { Bus, ensureStreams } from '../bus/index.ts';
import { type ResolvedServices, resolveServices, type StartEmbeddedNats } from '../infra/index.ts';
import {
  ACTOR_KIND,
  type ActorKindName,
  type SupervisorSummary,
  type SupervisorTree,
} from '../protocols/index.ts';
import {
  allRunning,
  askSupervisorSummary,
  askSupervisorTree,
  type SupervisorSpec,
} from '../supervisors/index.ts';
import { loadActorKind } from './kinds.ts';
import {
  DEFAULT_ALL_RUNNING_POLL_MS,
  DEFAULT_COMPLETE_TREE_RETRY_MS,
  DEFAULT_COMPLETE_TREE_TIMEOUT_MS,
  DEFAULT_ALL_RUNNING_TIMEOUT_MS,
  DEFAULT_SYSTEM_STOP_MS,
} from './system-options.ts';
import { systemSpec } from './system-spec.ts';
import type { TeamDef } from './teams.ts';

export interface StartSystemOptions {
  /** Services to use; each one not given is started embedded (see infra/services.ts). */
  natsUrl?: string;
  redisUrl?: string;
  vaultAddr?: string;
  vaultToken?: string;
  /** Which services are needed at all (default: all three). */
  need?: { nats?: boolean; redis?: boolean; vault?: boolean };
  /** Data folder of embedded services and of the actors that keep files (default `.data`). */
  dataDir?: string;
  /**
   * What the root supervisor runs: `'system'` (default: the system spec with `teams`), a spec of the
   * caller's (a bench's tree), or `'none'` (services and a client only).
   */
  tree?: 'system' | 'none' | SupervisorSpec;
  teams?: TeamDef[];
  /** Only these service kinds (default: all). */
  services?: readonly ActorKindName[];
  servicesAsProcesses?: boolean;
  /** Per-kind start arguments over the system's own (gateway port, ledger key…). */
  serviceArgs?: Partial<Record<ActorKindName, Record<string, unknown>>>;
  /**
   * With no API keys in `serviceArgs.gateway`, generate one key per tier once into
   * `<dataDir>/api-keys` so the local HTTP API is usable at once (see {@link ensureLocalApiKeys}).
   */
  localApiKeys?: boolean;
  /** Heartbeat interval of the root supervisor and of the children it gives it to. */
  heartbeatMs?: number;
  missedBeats?: number;
  /** How long each process child of the tree has to announce itself (default 15 s). */
  processStartTimeoutMs?: number;
  /** Create the JetStream streams (default true; a bench of the bare bus leaves them out). */
  streams?: boolean;
  /** Name and ask timeout of the caller's client bus. */
  clientName?: string;
  askTimeoutMs?: number;
  /** How the embedded nats-server starts (a secured one, say). */
  startNats?: StartEmbeddedNats;
}

export interface LiveProcess {
  supervisorId: string;
  childId: string;
  actorKind: string;
  actorId: string;
  pid: number;
}

export interface RunningSystem {
  services: ResolvedServices;
  natsUrl: string;
  redisUrl: string;
  dataDir: string;
  /** A bus for the caller (asks, the feed). */
  client: Bus;
  /** The root supervisor (absent with `tree: 'none'`). */
  root: ActorHandle | undefined;
  /** The live supervision tree, read page by page, nested supervisors to `depth` levels (default all). */
  tree(depth?: boolean | number): Promise<SupervisorTree>;
  /** Counts over the whole live tree, one small reply per supervisor. */
  summary(): Promise<SupervisorSummary>;
  /**
   * Every child running in its own process, from a complete read of the live tree (retried while a
   * nested supervisor does not answer; throws if it never does, never a list missing a subtree).
   */
  processes(): Promise<LiveProcess[]>;
  /** Stops the tree, the client and the services started here. */
  stop(): Promise<void>;
  /** Like stop, but ends the embedded servers at once (their data is thrown away next). */
  kill(): Promise<void>;
}

async function rootSpec(
  options: StartSystemOptions,
  services: ResolvedServices,
): Promise<SupervisorSpec | undefined> {
  const tree = options.tree ?? 'system';
  if (tree === 'none') return undefined;
  if (tree !== 'system') return tree;
  const gateway = { ...options.serviceArgs?.gateway };
  // Without Vault (need.vault false) the writer keeps a local key and the witness pins it on first use.
  const trust =
    services.vaultAddr && services.vaultToken
      ? await setUpLedgerTrust(services.vaultAddr, services.vaultToken)
      : undefined;
  const ledgerWriter = { ...trust?.writerArgs, ...options.serviceArgs?.['ledger-writer'] };
  const witness = { ...(trust ? { ledgerKey: trust.publicKeyPem } : {}), ...options.serviceArgs?.witness };
  if (options.localApiKeys && gateway.apiKeys === undefined && gateway.apiKeysFile === undefined)
    gateway.apiKeysFile = ensureLocalApiKeys(services.dataDir);
  return systemSpec({
    teams: options.teams ?? [],
    addresses: {
      redisUrl: services.redisUrl,
      vaultAddr: services.vaultAddr,
      vaultToken: services.vaultToken,
      dataDir: services.dataDir,
    },
    servicesAsProcesses: options.servicesAsProcesses,
    serviceArgs: { ...options.serviceArgs, gateway, 'ledger-writer': ledgerWriter, witness },
    services: options.services,
  });
}

export async function startSystem(options: StartSystemOptions = {}): Promise<RunningSystem> {
  const services = await resolveServices({
    natsUrl: options.natsUrl,
    redisUrl: options.redisUrl,
    vaultAddr: options.vaultAddr,
    vaultToken: options.vaultToken,
    dataDir: options.dataDir,
    need: options.need,
    startNats: options.startNats,
  });
  let client: Bus | undefined;
  let root: ActorHandle | undefined;
  try {
    client = await Bus.connect({
      servers: services.natsUrl,
      name: options.clientName ?? 'agov-cli',
      ...(options.askTimeoutMs ? { askTimeoutMs: options.askTimeoutMs } : {}),
    });
    if (options.streams !== false) await ensureStreams(client);
    const spec = await rootSpec(options, services);
    if (spec) {
      root = await runActor(await loadActorKind(ACTOR_KIND.supervisor), {
        id: spec.id,
        args: {
          spec,
          ...(options.heartbeatMs ? { childHeartbeatMs: options.heartbeatMs } : {}),
          ...(options.missedBeats ? { missedBeats: options.missedBeats } : {}),
          ...(options.processStartTimeoutMs ? { processStartTimeoutMs: options.processStartTimeoutMs } : {}),
        },
        bus: {
          servers: services.natsUrl,
          // The root connects as a supervisor, not as this process's admin; it mints its children's.
          credentials: await childCredentials(
            services.natsUrl,
            undefined,
            childPrincipal(ACTOR_KIND.supervisor, spec.id, {}),
          ),
        },
        ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
      });
    }
  } catch (err) {
    await client?.close().catch(() => {});
    await services.stop();
    throw err;
  }
  const bus = client;
  const rootId = root?.id ?? 'root';
  const tree = (depth: boolean | number = true) => askSupervisorTree(bus, rootId, depth);
  const end = async (servicesEnd: () => Promise<void>) => {
    await root?.stop('system stopping', DEFAULT_SYSTEM_STOP_MS).catch(() => {});
    await bus.close().catch(() => {});
    await servicesEnd();
  };
  return {
    services,
    natsUrl: services.natsUrl,
    redisUrl: services.redisUrl,
    dataDir: services.dataDir,
    client: bus,
    root,
    tree,
    summary: () => askSupervisorSummary(bus, rootId),
    processes: () => readLiveProcesses(bus, rootId),
    stop: () => end(services.stop),
    kill: () => end(services.kill),
  };
}

/**
 * Every child running in its own process, from a complete read of the tree: a nested supervisor that
 * does not answer is asked again until DEFAULT_COMPLETE_TREE_TIMEOUT_MS, then its error is thrown —
 * never a list silently missing a subtree (chaos kill-mixed under load read an empty target list and
 * "passed" with no kill delivered).
 */
async function readLiveProcesses(bus: Bus, rootId: string): Promise<LiveProcess[]> {
  const deadline = Date.now() + DEFAULT_COMPLETE_TREE_TIMEOUT_MS;
  for (;;) {
    try {
      return liveProcesses(await askSupervisorTree(bus, rootId, true, { complete: true }));
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, DEFAULT_COMPLETE_TREE_RETRY_MS));
    }
  }
}

function liveProcesses(root: SupervisorTree): LiveProcess[] {
  const out: LiveProcess[] = [];
  const walk = (t: SupervisorTree) => {
    for (const c of t.children) {
      if (c.pid && c.status === 'running')
        out.push({
          supervisorId: t.supervisorId,
          childId: c.id,
          actorKind: c.actorKind,
          actorId: c.actorId,
          pid: c.pid,
        });
      if (c.tree) walk(c.tree);
    }
  };
  walk(root);
  return out;
}

/**
 * On a machine with no API keys configured, one key per tier is generated once into
 * `<dataDir>/api-keys` (mode 0600, `name:tier:key` lines) so the local HTTP API is usable at once:
 * `curl -H "Authorization: Bearer $(grep admin .data/api-keys | cut -d: -f3)" localhost:8080/api/agents`.
 */
export function ensureLocalApiKeys(dataDir: string): string {
  const file = join(dataDir, 'api-keys');
  if (!existsSync(file)) {
    const key = () => randomBytes(24).toString('base64url');
    writeFileSync(
      file,
      `# generated by agov for local use\nadmin:T2:${key()}\nexecutor:T1:${key()}\nobserver:T0:${key()}\n`,
      { mode: 0o600 },
    );
  }
  return file;
}

/**
 * Waits until every child in the tree is running (or the timeout passes), polling the root's summary
 * (one small reply per supervisor, whatever the fleet's size), then returns the tree read to `depth`
 * levels of nested supervisors (default all; deeper ones carry their summaries).
 */
export async function waitForAllRunning(
  sys: Pick<RunningSystem, 'tree' | 'summary'>,
  timeoutMs = DEFAULT_ALL_RUNNING_TIMEOUT_MS,
  depth: boolean | number = true,
): Promise<SupervisorTree> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await sys.summary();
    if (allRunning(s) || Date.now() > deadline) return sys.tree(depth);
    await new Promise((r) => setTimeout(r, DEFAULT_ALL_RUNNING_POLL_MS));
  }
}
