/**
 * Outcome reports from inside an exec task (issue 14 item 5). A sandboxed task has no network and no
 * credential, so it reports the way it reports everything else — through its agent: it appends JSON
 * lines `{"outcome":"error"|"ok","message"?,"code"?}` to `$AGOV_REPORT_FILE` (`agov report` does it),
 * a file in its own working directory. When the task ends the agent reads at most
 * {@link MAX_TASK_REPORTS} of them and returns them in the result (`output.reports`); the orchestrator
 * counts each against the budget of the run the task belongs to — by its own record of the task, so
 * a task can report only to its own run whatever it writes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The report file's name, in the task's working directory. */
export const TASK_REPORT_FILE = '.agov-reports.jsonl';
/** At most this many reports of one task are counted; the rest are dropped and `dropped` says so. */
export const MAX_TASK_REPORTS = 100;
/** At most this many bytes of the report file are read. */
export const MAX_TASK_REPORT_BYTES = 64 * 1024;
const MAX_TEXT = 1_000;

export interface TaskReport {
  outcome: 'error' | 'success';
  message?: string;
  code?: string;
}

/** Parses the report file's text: one JSON object a line; unreadable lines are counted as dropped. Pure. */
export function parseTaskReports(text: string): { reports: TaskReport[]; dropped: number } {
  const reports: TaskReport[] = [];
  let dropped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      dropped++;
      continue;
    }
    const o = v as { outcome?: unknown; message?: unknown; code?: unknown };
    const outcome =
      o?.outcome === 'error'
        ? 'error'
        : o?.outcome === 'ok' || o?.outcome === 'success'
          ? 'success'
          : undefined;
    if (!outcome || reports.length >= MAX_TASK_REPORTS) {
      dropped++;
      continue;
    }
    const r: TaskReport = { outcome };
    if (typeof o.message === 'string') r.message = o.message.slice(0, MAX_TEXT);
    if (typeof o.code === 'string') r.code = o.code.slice(0, 128);
    reports.push(r);
  }
  return { reports, dropped };
}

/** The reports a finished task left in `taskDir` (none when it wrote no file). */
export async function readTaskReports(taskDir: string): Promise<{ reports: TaskReport[]; dropped: number }> {
  let text: string;
  try {
    text = (await readFile(join(taskDir, TASK_REPORT_FILE)))
      .subarray(0, MAX_TASK_REPORT_BYTES)
      .toString('utf8');
  } catch {
    return { reports: [], dropped: 0 };
  }
  return parseTaskReports(text);
}
