import { parseArgs } from 'node:util';
import { readEnvironment } from '../infra/index.ts';
import { ACTOR_KIND } from '../protocols/index.ts';
import type { AgentState } from '../actors/index.ts';
import { Bus } from '../bus/index.ts';
import { ConfigError, NoRespondersError } from '../protocols/index.ts';
import { serviceSubject } from '../protocols/index.ts';

const COLUMNS = ['ID', 'STATE', 'TIER', 'TEAM', 'ROLE', 'RESTARTS', 'LAST HB', 'CURRENT TASK'] as const;

/** Age as a short human string: `850ms`, `12s`, `3m`, `2h`; `-` when unknown. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const a = Math.max(0, ms);
  if (a < 1_000) return `${Math.round(a)}ms`;
  if (a < 60_000) return `${Math.floor(a / 1_000)}s`;
  if (a < 3_600_000) return `${Math.floor(a / 60_000)}m`;
  return `${Math.floor(a / 3_600_000)}h`;
}

/**
 * The agents as a text table. `nowMs` is the directory's clock at reply time (the reply's `ts`),
 * the same clock as `lastHeartbeatMs`, so ages are right whatever this machine's clock says.
 */
export function formatAgentsTable(agents: readonly AgentState[], nowMs: number): string {
  if (agents.length === 0) return 'no agents known to the directory';
  const rows = agents.map((a) => [
    a.agentId,
    a.state,
    a.tier,
    a.team ?? '-',
    a.role ?? '-',
    String(a.restarts),
    a.lastHeartbeatMs === undefined ? '-' : formatAge(nowMs - a.lastHeartbeatMs),
    a.currentTask
      ? `${a.currentTask.runId}/${a.currentTask.stageId}#${a.currentTask.attempt} (${a.currentTask.taskId})`
      : '-',
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(COLUMNS), ...rows.map(line)].join('\n');
}

/**
 * `agov agents [--json] [--team T] [--nats URL]`: asks the agent directory (`gov.svc.agent-directory`)
 * and prints one line per agent: id, state, tier, team, role, restarts, last heartbeat age, current task.
 */
export async function commandAgents(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      team: { type: 'string' },
      nats: { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
  const servers = values.nats ?? readEnvironment().natsUrl;
  if (!servers)
    throw new ConfigError(
      'agov agents needs NATS_URL (or --nats) pointing at a running system (see `agov up`)',
    );
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw new ConfigError('--timeout-ms must be a positive number');
  const bus = await Bus.connect({ servers, name: 'agov-agents' });
  try {
    let reply: Awaited<ReturnType<Bus['ask']>>;
    try {
      reply = await bus.ask(
        serviceSubject(ACTOR_KIND.agentDirectory),
        { type: 'agent.status.v1', body: values.team ? { team: values.team } : {} },
        { timeoutMs },
      );
    } catch (err) {
      if (err instanceof NoRespondersError) {
        throw new NoRespondersError(
          'no agent directory is running (start one: agov actor agent-directory --id directory-1)',
          { cause: err },
        );
      }
      throw err;
    }
    if (reply.type !== 'agent.states.v1') throw new Error(`unexpected reply ${reply.type}`);
    const agents = reply.body.agents;
    if (values.json) {
      const withAge = agents.map((a) => ({
        ...a,
        lastHeartbeatAgeMs:
          a.lastHeartbeatMs === undefined ? null : Math.max(0, reply.ts - a.lastHeartbeatMs),
      }));
      process.stdout.write(`${JSON.stringify(withAge, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatAgentsTable(agents, reply.ts)}\n`);
    }
    return 0;
  } finally {
    await bus.close();
  }
}
