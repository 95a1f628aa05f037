import { TaskNotHandledError } from '../../../protocols/index.ts';
import { failed, type TaskRunner } from './task-runner.ts';

/**
 * `pipeline`: not run by agents. A child pipeline is started and awaited by the orchestrator itself
 * (it sends run.request.v1 with the parent's run id), so an agent given one answers with a failed
 * result carrying GOV_ERR_TASK_NOT_HANDLED rather than guessing. Agents do not list `pipeline`
 * in their capabilities.
 */
export const runPipeline: TaskRunner<'pipeline'> = async (task) =>
  failed(
    new TaskNotHandledError(
      'pipeline tasks are not handled by the agent: the orchestrator runs child pipelines itself',
      {
        details: {
          kind: 'pipeline',
          ...(task.name ? { name: task.name } : {}),
          ...(task.file ? { file: task.file } : {}),
        },
      },
    ),
  );
