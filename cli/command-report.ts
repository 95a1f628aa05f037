/**
 * `agov report error|ok [--message M] [--code C]`: a tool reports an outcome against the error budget
 * of the run it works for (issue 14 item 5).
 *
 * - Inside an exec task (`AGOV_REPORT_FILE` set by the agent): appends one JSON line to that file. The
 *   agent returns the lines with the task's result and the orchestrator counts them against the run
 *   its own record puts the task in (actors/agent/tasks/task-reports.ts): no network and no
 *   credential inside the sandbox, and a task cannot report into another run. A task without this CLI
 *   writes the same line itself: `echo '{"outcome":"error","message":"…"}' >> "$AGOV_REPORT_FILE"`.
 * - Elsewhere: `POST $AGOV_HTTP_URL/api/pipeline/errors` with `AGOV_API_KEY` (T1 or more) for the run
 *   `PIPELINE_ID` (`PARENT_PIPELINE_ID` as its parent), answered 202.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readEnvironment } from '../infra/environment.ts';
import { ConfigError, UnauthenticatedError } from '../protocols/vocabulary/errors.ts';
import { print } from './context-client.ts';

export const REPORT_USAGE = `agov report error|ok [--message M] [--code C]
`;

export async function commandReport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { message: { type: 'string', short: 'm' }, code: { type: 'string' } },
  });
  const verb = positionals[0];
  if ((verb !== 'error' && verb !== 'ok') || positionals.length !== 1)
    throw new ConfigError(`usage: ${REPORT_USAGE.trim()}`);
  const env = readEnvironment();
  const line = {
    outcome: verb,
    ...(values.message ? { message: values.message } : {}),
    ...(values.code ? { code: values.code } : {}),
  };
  if (env.reportFile) {
    appendFileSync(env.reportFile, `${JSON.stringify(line)}\n`);
    print(`reported ${verb} for this task's run${env.pipelineId ? ` (${env.pipelineId})` : ''}`);
    return 0;
  }
  if (!env.pipelineId)
    throw new ConfigError(
      'agov report needs PIPELINE_ID (set for every task) or AGOV_REPORT_FILE (exec tasks)',
    );
  if (!env.httpUrl || !env.apiKey)
    throw new ConfigError(
      'outside a task, agov report needs AGOV_HTTP_URL and AGOV_API_KEY (a T1 key or more)',
    );
  const res = await fetch(new URL('/api/pipeline/errors', env.httpUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${env.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      runId: env.pipelineId,
      outcome: verb === 'ok' ? 'success' : 'error',
      source: 'agov-report',
      ...(values.code ? { code: values.code } : {}),
      ...(values.message ? { message: values.message } : {}),
      ...(env.parentPipelineId ? { parentRunId: env.parentPipelineId } : {}),
    }),
  });
  if (res.status !== 202) {
    const text = await res.text();
    const Err = res.status === 401 || res.status === 403 ? UnauthenticatedError : ConfigError;
    throw new Err(`the gateway answered ${res.status}: ${text.slice(0, 500)}`, {
      details: { status: res.status },
    });
  }
  print(`reported ${verb} for run ${env.pipelineId}`);
  return 0;
}
