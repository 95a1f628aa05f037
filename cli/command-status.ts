/**
 * `agov status update TARGET [--phase P] [--task T] [--progress N] [--owner AGENT] [--kind K]`,
 * `agov status sweep`, `agov status dashboard`: work status per target, asked of the work-status actor
 * (`gov.svc.work-status`). `--json` prints the reply. A task's `PIPELINE_ID` is recorded on its updates.
 */
import { parseArgs } from 'node:util';
import { renderDashboard } from '../actors/context/status-logic.ts';
import { readEnvironment } from '../infra/environment.ts';
import { ACTOR_KIND } from '../protocols/actor-kinds.ts';
import { ConfigError } from '../protocols/vocabulary/errors.ts';
import { WorkPhaseSchema, WorkTargetKindSchema } from '../protocols/messages/context.ts';
import { askContext, intOption, print, printJson, withBus } from './context-client.ts';

export const STATUS_USAGE = `agov status update TARGET [--phase P] [--task T] [--progress N] [--owner AGENT] [--kind K]
agov status sweep
agov status dashboard
phases: ${WorkPhaseSchema.options.join(', ')}; kinds: ${WorkTargetKindSchema.options.join(', ')}
options: --json, --nats URL
`;

export async function commandStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      phase: { type: 'string' },
      task: { type: 'string' },
      progress: { type: 'string' },
      owner: { type: 'string' },
      kind: { type: 'string' },
      json: { type: 'boolean' },
      nats: { type: 'string' },
    },
  });
  const [sub, target] = positionals;
  switch (sub) {
    case 'update': {
      if (!target) throw new ConfigError('agov status update needs a TARGET');
      const phase = values.phase === undefined ? undefined : WorkPhaseSchema.safeParse(values.phase);
      if (phase && !phase.success)
        throw new ConfigError(`--phase must be one of ${WorkPhaseSchema.options.join(', ')}`);
      const kind = values.kind === undefined ? undefined : WorkTargetKindSchema.safeParse(values.kind);
      if (kind && !kind.success)
        throw new ConfigError(`--kind must be one of ${WorkTargetKindSchema.options.join(', ')}`);
      const runId = readEnvironment().pipelineId;
      return withBus('status', values.nats, async (bus) => {
        const reply = await askContext(
          bus,
          ACTOR_KIND.workStatus,
          {
            type: 'status.update.v1',
            body: {
              target,
              ...(phase ? { phase: phase.data } : {}),
              ...(kind ? { kind: kind.data } : {}),
              ...(values.task !== undefined ? { task: values.task } : {}),
              ...(values.progress !== undefined
                ? { progress: intOption('progress', values.progress, 0, 100) }
                : {}),
              ...(values.owner ? { owner: values.owner } : {}),
              ...(runId ? { runId } : {}),
            },
          },
          'status.target.v1',
          'T2',
        );
        const t = reply.body;
        if (values.json) printJson(t);
        else print(`${t.target}: ${t.phase} ${t.progress}%${t.task ? ` — ${t.task}` : ''}`);
        return 0;
      });
    }
    case 'sweep':
    case 'dashboard':
      return withBus('status', values.nats, async (bus) => {
        const reply = await askContext(
          bus,
          ACTOR_KIND.workStatus,
          sub === 'sweep' ? { type: 'status.sweep.v1', body: {} } : { type: 'status.query.v1', body: {} },
          'status.dashboard.v1',
        );
        if (values.json) printJson(reply.body);
        else print(renderDashboard(reply.body));
        // A sweep that found problems says so in its exit status (scripts, CI).
        return sub === 'sweep' && reply.body.targets.some((t) => t.flags.length > 0) ? 1 : 0;
      });
    default:
      print(STATUS_USAGE);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}
