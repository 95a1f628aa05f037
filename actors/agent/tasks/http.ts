/**
 * `http`: sends one HTTP request with fetch. T1+. Bounded by the assignment's timeout (the agent aborts
 * the request). Succeeds on `expectStatus` when the task sets one, else on any 2xx.
 * Output: `{ status, contentType, body, truncated }` with at most `httpMaxBodyBytes` of the body.
 */
import { InvalidMessageError, TaskFailedError } from '../../../protocols/index.ts';
import { failed, numberField, succeeded, type TaskRunner } from './task-runner.ts';

export interface HttpOutput {
  status: number;
  contentType: string | null;
  body: string;
  truncated: boolean;
}

async function readCapped(res: Response, maxBytes: number): Promise<{ body: string; truncated: boolean }> {
  if (!res.body) return { body: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - size;
    if (value.length > room) {
      truncated = true;
      if (room > 0) chunks.push(value.subarray(0, room));
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  return { body: Buffer.concat(chunks).toString('utf8'), truncated };
}

export const runHttp: TaskRunner<'http'> = async (task, ctx) => {
  if (task.url.includes('${{')) {
    return failed(
      new InvalidMessageError(
        'http url still holds a reference: references must be resolved before a task reaches an agent',
      ),
    );
  }
  const expect = task.expectStatus === undefined ? undefined : numberField(task.expectStatus, 'expectStatus');
  const headers: Record<string, string> = { ...task.headers };
  let body: string | undefined;
  if (typeof task.body === 'string') body = task.body;
  else if (task.body !== undefined) {
    body = JSON.stringify(task.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(task.url, {
      method: task.method,
      headers,
      body,
      signal: ctx.signal,
      redirect: 'manual',
    });
  } catch (err) {
    if (ctx.signal.aborted) return { status: 'cancelled' };
    return failed(
      new TaskFailedError(
        `http ${task.method} ${task.url} failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      ),
    );
  }
  let read: { body: string; truncated: boolean };
  try {
    read =
      task.method === 'HEAD' ? { body: '', truncated: false } : await readCapped(res, ctx.httpMaxBodyBytes);
  } catch (err) {
    if (ctx.signal.aborted) return { status: 'cancelled' };
    return failed(
      new TaskFailedError(`http ${task.method} ${task.url}: reading the body failed: ${String(err)}`, {
        cause: err,
      }),
    );
  }
  const output: HttpOutput = { status: res.status, contentType: res.headers.get('content-type'), ...read };
  const ok = expect === undefined ? res.status >= 200 && res.status < 300 : res.status === expect;
  if (ok) return succeeded(output);
  return failed(
    new TaskFailedError(
      `http ${task.method} ${task.url} answered ${res.status}, expected ${expect ?? '2xx'}`,
      {
        details: { status: res.status, expected: expect ?? '2xx' },
      },
    ),
    output,
  );
};
