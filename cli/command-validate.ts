import { formatDiagnostic, validateFiles } from '../protocols/pipeline/index.ts';
import { ConfigError } from '../protocols/index.ts';

/**
 * `agov validate FILE...`: checks pipeline files. Prints each problem as
 * `file:line:column: error[code]: message` (stdout) and `FILE: ok` for a clean file;
 * exits 1 when any file has an error.
 */
export async function commandValidate(argv: string[]): Promise<number> {
  const files = argv.filter((a) => !a.startsWith('-'));
  if (files.length === 0) throw new ConfigError('usage: agov validate FILE...');
  const result = await validateFiles(files);
  const bad = new Set(result.diagnostics.map((d) => d.file));
  for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
  for (const f of files) if (!bad.has(f)) process.stdout.write(`${f}: ok\n`);
  if (!result.ok) {
    process.stderr.write(`${result.diagnostics.length} error(s) in ${bad.size} file(s)\n`);
    return 1;
  }
  return 0;
}
