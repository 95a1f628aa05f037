/** `parsePipeline`: YAML text → resolved pipeline, or every problem as a located diagnostic. */
import { LineCounter, parseDocument } from 'yaml';
import { compareDiagnostics, type Diagnostic } from './diagnostics.ts';
import type { ErrorBudget, ResolvedPipeline } from './model.ts';
import {
  DEFAULT_DIAGNOSTIC_PIPELINE,
  DEFAULT_ERROR_BUDGET_BREACH_RATIO,
  DEFAULT_ERROR_BUDGET_MAX_ERRORS,
  DEFAULT_ERROR_BUDGET_WARN_RATIO,
  DEFAULT_ERROR_BUDGET_WINDOW_MS,
  DEFAULT_MAX_PIPELINE_BYTES,
  DEFAULT_MAX_YAML_ALIAS_COUNT,
} from './options.ts';
import { Resolver } from './resolver.ts';
import { type PipelineFile, PipelineFileSchema } from './schema.ts';
import { schemaDiagnostics } from './schema-issues.ts';
import { SourceLocator } from './source-locator.ts';

export type ParseResult =
  | { ok: true; pipeline: ResolvedPipeline; diagnostics: [] }
  | { ok: false; diagnostics: Diagnostic[] };

/** Name used in diagnostics when no file is given. */
export const INLINE_FILE = '<inline>';

/**
 * Parses and checks a pipeline file: YAML syntax, the schema, stage ids and `needs`,
 * templates, parameter references, tiers and cycles. Templates are expanded and defaults
 * filled in; `${{ params.x }}` references stay until `instantiatePipeline`.
 */
export function parsePipeline(text: string, file: string = INLINE_FILE): ParseResult {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > DEFAULT_MAX_PIPELINE_BYTES) {
    return limitExceeded(file, `the file is ${bytes} bytes; at most ${DEFAULT_MAX_PIPELINE_BYTES} are read`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const loc = new SourceLocator(file, text, doc, lineCounter);

  if (doc.errors.length > 0) {
    const diagnostics = doc.errors.map((e): Diagnostic => {
      const { line, column } = loc.atOffset(e.pos[0]);
      return {
        file,
        line,
        column,
        code: 'yaml-syntax',
        message: `${e.message.split('\n')[0] ?? e.message} (${e.code})`,
      };
    });
    return { ok: false, diagnostics: diagnostics.sort(compareDiagnostics) };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: DEFAULT_MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    // The yaml library refuses an alias expansion past the count (a "billion laughs" document).
    return limitExceeded(
      file,
      `too many alias expansions (at most ${DEFAULT_MAX_YAML_ALIAS_COUNT}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const parsed = PipelineFileSchema.safeParse(data);
  const diagnostics = parsed.success ? [] : schemaDiagnostics(parsed.error.issues, data, loc);
  const resolved = new Resolver(data, loc).run();
  diagnostics.push(...resolved.diagnostics);

  if (diagnostics.length > 0 || !parsed.success) {
    return { ok: false, diagnostics: diagnostics.sort(compareDiagnostics) };
  }
  return { ok: true, pipeline: toResolved(parsed.data, resolved.stages, file), diagnostics: [] };
}

function limitExceeded(file: string, message: string): ParseResult {
  return { ok: false, diagnostics: [{ file, line: 1, column: 1, code: 'yaml-limit', message }] };
}

function toResolved(f: PipelineFile, stages: ResolvedPipeline['stages'], file: string): ResolvedPipeline {
  const out: ResolvedPipeline = {
    name: f.name,
    version: String(f.version),
    parameters: f.parameters,
    templates: f.templates,
    stages,
    errorBudget: toErrorBudget(f.errorBudget),
    token: f.token,
  };
  if (file !== INLINE_FILE) out.file = file;
  if (f.description !== undefined) out.description = f.description;
  return out;
}

function toErrorBudget(b: PipelineFile['errorBudget']): ErrorBudget {
  if (b === undefined) {
    return {
      kind: 'count',
      maxErrors: DEFAULT_ERROR_BUDGET_MAX_ERRORS,
      windowMs: DEFAULT_ERROR_BUDGET_WINDOW_MS,
      warn: DEFAULT_ERROR_BUDGET_WARN_RATIO,
      breach: DEFAULT_ERROR_BUDGET_BREACH_RATIO,
      diagnostic: DEFAULT_DIAGNOSTIC_PIPELINE,
    };
  }
  return 'maxErrors' in b ? { kind: 'count', ...b } : { kind: 'slo', ...b };
}
