/**
 * The extractive summary of a memory blob (pure), computed once on write so that `memory fetch -s`
 * answers without reading the content: size, line counts, the detected format, head and tail lines,
 * error lines for logs and text, top-level keys for JSON. Nothing is generated; every line shown is a
 * line of the blob (cut to a bounded width).
 */
import type { z } from 'zod';
import type { MemorySummarySchema } from '../../protocols/messages/context.ts';
import {
  DEFAULT_SUMMARY_ERROR_LINES,
  DEFAULT_SUMMARY_HEAD_LINES,
  DEFAULT_SUMMARY_LINE_CHARS,
  DEFAULT_SUMMARY_TAIL_LINES,
} from './context-options.ts';
import { isText } from '../../protocols/memory-content.ts';

export { isText };

export type MemorySummary = z.output<typeof MemorySummarySchema>;

export interface SummaryLimits {
  headLines?: number;
  tailLines?: number;
  errorLines?: number;
  lineChars?: number;
}

const ERROR_RE = /\b(error|err|fatal|panic|exception|traceback|failed|failure|critical)\b|^E\d{4}|\[E\]/i;
/** A log line: starts with a timestamp, a level, or a bracketed tag. */
const LOG_LINE_RE =
  /^(\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|\[?(DEBUG|INFO|WARN|WARNING|ERROR|TRACE|FATAL)\b)/i;

function cut(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function jsonKeys(text: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.keys(v);
    if (Array.isArray(v)) return [`[${v.length} items]`];
    return undefined;
  } catch {
    return undefined;
  }
}

function detect(lines: string[], text: string): { format: MemorySummary['format']; keys?: string[] } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const keys = jsonKeys(trimmed);
    if (keys) return { format: 'json', keys };
  }
  const nonBlank = lines.filter((l) => l.trim() !== '');
  if (nonBlank.length > 1 && nonBlank.every((l) => l.trim().startsWith('{'))) {
    const keys = jsonKeys(nonBlank[0]!.trim());
    if (keys && nonBlank.every((l) => jsonKeys(l.trim()) !== undefined)) return { format: 'jsonl', keys };
  }
  const logLike = nonBlank.filter((l) => LOG_LINE_RE.test(l)).length;
  if (nonBlank.length > 0 && logLike / nonBlank.length >= 0.5) return { format: 'log' };
  return { format: 'text' };
}

/** Summarises `bytes` (text or binary) within the limits. */
export function summarize(bytes: Uint8Array, limits: SummaryLimits = {}): MemorySummary {
  const headN = limits.headLines ?? DEFAULT_SUMMARY_HEAD_LINES;
  const tailN = limits.tailLines ?? DEFAULT_SUMMARY_TAIL_LINES;
  const errN = limits.errorLines ?? DEFAULT_SUMMARY_ERROR_LINES;
  const width = limits.lineChars ?? DEFAULT_SUMMARY_LINE_CHARS;
  if (!isText(bytes)) {
    return {
      bytes: bytes.length,
      lines: 0,
      blankLines: 0,
      format: 'binary',
      head: [],
      tail: [],
      errorLines: [],
      errorCount: 0,
    };
  }
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split(/\r?\n/);
  // A trailing newline ends the last line; it does not start another.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const { format, keys } = detect(lines, text);
  const errorLines: MemorySummary['errorLines'] = [];
  let errorCount = 0;
  if (format === 'log' || format === 'text') {
    lines.forEach((l, i) => {
      if (!ERROR_RE.test(l)) return;
      errorCount++;
      if (errorLines.length < errN) errorLines.push({ line: i + 1, text: cut(l, width) });
    });
  }
  const head = lines.slice(0, headN).map((l) => cut(l, width));
  const tail =
    lines.length > headN ? lines.slice(Math.max(headN, lines.length - tailN)).map((l) => cut(l, width)) : [];
  return {
    bytes: bytes.length,
    lines: lines.length,
    blankLines: lines.filter((l) => l.trim() === '').length,
    format,
    head,
    tail,
    errorLines,
    errorCount,
    ...(keys ? { jsonKeys: keys.slice(0, 100) } : {}),
  };
}

/** The summary as text lines, for `agov memory fetch -s`. */
export function formatSummary(s: MemorySummary): string {
  const out = [`${s.format}, ${s.bytes} bytes, ${s.lines} lines (${s.blankLines} blank)`];
  if (s.jsonKeys) out.push(`keys: ${s.jsonKeys.join(', ')}`);
  if (s.head.length) out.push('head:', ...s.head.map((l) => `  ${l}`));
  if (s.tail.length) out.push('tail:', ...s.tail.map((l) => `  ${l}`));
  if (s.errorCount)
    out.push(`errors (${s.errorCount}):`, ...s.errorLines.map((e) => `  ${e.line}: ${e.text}`));
  return out.join('\n');
}
