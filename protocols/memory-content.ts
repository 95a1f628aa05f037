/**
 * How a memory blob's bytes travel in `memory.put.v1` / `memory.content.v1` (`content` + `encoding`):
 * text as text, anything else base64. Every sender uses this one encoder: base64 makes text a third
 * larger, and a spill of the default bound (768 KiB) sent as base64 no longer fit one message.
 */

/** Whether the bytes look like text (valid UTF-8 without NULs). */
export function isText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Content as it travels: text as text, anything else base64. */
export function encodeContent(bytes: Uint8Array): { content: string; encoding: 'utf8' | 'base64' } {
  return isText(bytes)
    ? { content: Buffer.from(bytes).toString('utf8'), encoding: 'utf8' }
    : { content: Buffer.from(bytes).toString('base64'), encoding: 'base64' };
}
