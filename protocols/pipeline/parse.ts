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

  const data: unknown = doc.toJS();
  const parsed = PipelineFileSchema.safeParse(data);
  const diagnostics = parsed.success ? [] : schemaDiagnostics(parsed.error.issues, data, loc);
  const resolved = new Resolver(data, loc).run();
  diagnostics.push(...resolved.diagnostics);

  if (diagnostics.length > 0 || !parsed.success) {
    return { ok: false, diagnostics: diagnostics.sort(compareDiagnostics) };
  }
  return { ok: true, pipeline: toResolved(parsed.data, resolved.stages, file), diagnostics: [] };
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
