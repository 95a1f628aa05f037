/** Located problems found in a pipeline file, and their one-line form. */

export const DIAGNOSTIC_CODES = [
  'io',
  'yaml-syntax',
  'yaml-limit',
  'schema',
  'duplicate-stage',
  'unknown-stage',
  'unknown-template',
  'cycle',
  'tier-not-allowed',
  'unknown-parameter',
  'missing-parameter',
  'parameter-type',
  'bad-interpolation',
  'invalid-value',
] as const;
export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

export interface Diagnostic {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  code: DiagnosticCode;
  message: string;
}

/** `file:line:column: error[code]: message`, the form editors and CI logs understand. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: error[${d.code}]: ${d.message}`;
}

/** Orders diagnostics by file, then position, then code. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.column !== b.column) return a.column - b.column;
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}
