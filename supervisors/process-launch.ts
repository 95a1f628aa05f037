/**
 * Starting a process child for a supervisor: spawn `agov actor <kind>` with the child's own
 * credential, and wait for its `actor.started.v1` or first heartbeat (or its early death, or the start
 * timeout).
 */
import type { Bus, BusCredentials } from '../bus/index.ts';
import type { Logger } from '../infra/index.ts';
import { heartbeatSubject, startedSubject } from '../protocols/index.ts';
import type { StartDescriptor } from './child-spec.ts';
import { type ProcessChild, spawnProcessChild } from './process-child.ts';

export interface ProcessLaunch {
  bus: Bus;
  natsUrl: string;
  log: Logger;
  childId: string;
  kind: string;
  actorId: string;
  start: Extract<StartDescriptor, { kind: 'process' }>;
  credentials: BusCredentials | undefined;
  /** For a nested supervisor in its own process: the authority to mint its children's credentials. */
  issuerSeed: string | undefined;
  heartbeatMs: number;
  /** The parent's supervision settings, inherited by a supervisor in its own process. */
  supervision: { childHeartbeatMs: number; missedBeats: number; processStartTimeoutMs: number };
}

/** Spawns the child and resolves once it announced itself; kills it and throws when it does not. */
export async function startProcessChild(l: ProcessLaunch): Promise<ProcessChild> {
  const { bus, kind, actorId, start } = l;
  const timeoutMs = l.supervision.processStartTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let pid: number | undefined;
  const started = new Promise<void>((resolve, reject) => {
    const done = () => {
      for (const s of subs) s.unsubscribe();
      resolve();
    };
    // The announcement is a core publish: across a nats-server restart it can be lost (sent while we
    // were not yet subscribed again). The child's heartbeats, from its pid, say the same thing again
    // every interval; without them a child that did start was killed as "did not start" (restart-nats).
    const subs = [
      bus.subscribeRaw(startedSubject(kind, actorId), done),
      bus.subscribeRaw(heartbeatSubject(kind, actorId), (m) => {
        const d = bus.decode(m.data);
        if (d.ok && d.env.type === 'actor.heartbeat.v1' && pid !== undefined && d.env.body.pid === pid)
          done();
      }),
    ];
    timer = setTimeout(() => {
      for (const s of subs) s.unsubscribe();
      reject(new Error(`process child ${actorId} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  void started.finally(() => clearTimeout(timer)).catch(() => {});
  // Our subscriptions registered before the child can announce itself. While our connection is down
  // (a nats-server restart) the flush fails, but that is no failed start: the subscriptions go out
  // first on reconnect, and a missed announcement is made up by the child's heartbeats. Failing here
  // burned the services supervisor's restart intensity in two seconds (restart-nats chaos).
  await bus.flush().catch((err: unknown) => {
    if (bus.isClosed()) throw err;
  });
  const inherited =
    kind === 'supervisor'
      ? {
          childHeartbeatMs: l.supervision.childHeartbeatMs,
          missedBeats: l.supervision.missedBeats,
          processStartTimeoutMs: l.supervision.processStartTimeoutMs,
        }
      : {};
  const proc = spawnProcessChild({
    kind,
    id: actorId,
    natsUrl: l.natsUrl,
    credentials: l.credentials,
    ...(l.issuerSeed ? { issuerSeed: l.issuerSeed } : {}),
    args: { ...inherited, ...start.args },
    heartbeatMs: l.heartbeatMs,
    // Applied to every incarnation: a restart is a new process, spawned at the spec's priority.
    ...(start.nice !== undefined ? { nice: start.nice } : {}),
    ...(start.env ? { env: start.env } : {}),
  });
  pid = proc.pid;
  if (proc.niceError)
    l.log.warn('process child runs without its nice value', {
      childId: l.childId,
      nice: start.nice,
      error: String(proc.niceError),
    });
  const exitedEarly = proc.exited.then((e) => {
    throw new Error(`process child ${actorId} exited during start (code ${e.code}, signal ${e.signal})`);
  });
  try {
    await Promise.race([started, exitedEarly]);
  } catch (err) {
    proc.signal('SIGKILL');
    throw err;
  }
  return proc;
}
