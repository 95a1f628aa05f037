/** `validateFiles`: checks pipeline files on disk, as `agov validate` does. */
import { readFile } from 'node:fs/promises';
import type { Diagnostic } from './diagnostics.ts';
import { parsePipeline } from './parse.ts';

export interface ValidateResult {
  ok: boolean;
  diagnostics: Diagnostic[];
}

/** Parses every file; a file that cannot be read gets an `io` diagnostic at 1:1. */
export async function validateFiles(paths: readonly string[]): Promise<ValidateResult> {
  const diagnostics: Diagnostic[] = [];
  for (const file of paths) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      diagnostics.push({ file, line: 1, column: 1, code: 'io', message: `cannot read file (${reason})` });
      continue;
    }
    const result = parsePipeline(text, file);
    if (!result.ok) diagnostics.push(...result.diagnostics);
  }
  return { ok: diagnostics.length === 0, diagnostics };
}
