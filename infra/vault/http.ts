/**
 * The Vault dev server's HTTP side in Vault's shapes: the calling token (`X-Vault-Token` or a
 * bearer), the operation of a method, the JSON body (1 MiB at most), string fields, and the answers
 * (a result, a wrapped result, errors).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VaultApiError } from './api-error.ts';
import type { Op } from './route.ts';
import type { StoreResult } from './token-store.ts';
import type { WrapInfo } from './wrapping.ts';

const MAX_BODY_BYTES = 1024 * 1024;

export function clientToken(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct) return direct;
  const authz = req.headers.authorization;
  if (authz?.startsWith('Bearer ')) return authz.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

export function operation(method: string, url: URL): Op {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return url.searchParams.get('list') === 'true' || url.searchParams.get('list') === '1'
        ? 'list'
        : 'read';
    case 'LIST':
      return 'list';
    case 'DELETE':
      return 'delete';
    default:
      return 'update';
  }
}

export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new VaultApiError(413, ['request body too large']);
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VaultApiError(400, [`failed to parse JSON input: ${(err as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VaultApiError(400, ['failed to parse JSON input: body must be a JSON object']);
  }
  return parsed as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  throw new VaultApiError(400, [`error converting input for field "${key}": expected a string`]);
}

export function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendResult(res: ServerResponse, result: StoreResult): void {
  send(res, 200, {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: result.data ?? null,
    wrap_info: null,
    warnings: result.warnings && result.warnings.length > 0 ? result.warnings : null,
    auth: result.auth ?? null,
    mount_type: 'token',
  });
}

export function sendWrapped(res: ServerResponse, wrapInfo: WrapInfo): void {
  send(res, 200, {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: wrapInfo,
    warnings: null,
    auth: null,
  });
}
