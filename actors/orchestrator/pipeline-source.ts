/**
 * Where the orchestrator gets pipelines from: a run request (`yaml` text and/or a `file` path),
 * and the child pipeline of a `pipeline` task (`file` relative to the parent's file, or `name`: a
 * template of the parent's file, else `<name>.yaml` beside the parent or in the pipelines folder).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { PipelineInvalidError } from '../../protocols/errors.ts';
import {
  type ConcretePipeline,
  formatDiagnostic,
  INLINE_FILE,
  instantiatePipeline,
  parsePipeline,
  type Scalar,
  type TaskOf,
} from '../../protocols/pipeline/index.ts';
import { DEFAULT_PIPELINE_CACHE_ENTRIES } from './options.ts';

/**
 * Compiled pipelines by (file, text, params): compiling is pure, and a service that submits the same
 * pipeline again and again (or a bench) should not pay the YAML parse and validation every time.
 * Entries are shared between runs; nothing mutates a ConcretePipeline (the run reducer copies runs,
 * never the pipeline). Least recently used entries go first.
 */
const compiled = new Map<string, ConcretePipeline>();

/** Parses and instantiates (or takes from the cache), or throws PipelineInvalidError with every diagnostic in `details.diagnostics`. */
export function compilePipeline(
  text: string,
  file: string,
  params: Record<string, Scalar>,
): ConcretePipeline {
  const key = `${file}\u0000${text}\u0000${JSON.stringify(params)}`;
  const hit = compiled.get(key);
  if (hit) {
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  const pipeline = compileUncached(text, file, params);
  compiled.set(key, pipeline);
  if (compiled.size > DEFAULT_PIPELINE_CACHE_ENTRIES) compiled.delete(compiled.keys().next().value!);
  return pipeline;
}

function compileUncached(text: string, file: string, params: Record<string, Scalar>): ConcretePipeline {
  const parsed = parsePipeline(text, file);
  if (!parsed.ok) {
    const first = parsed.diagnostics[0];
    throw new PipelineInvalidError(
      `pipeline ${file} is invalid (${parsed.diagnostics.length} problem(s))${first ? `: ${formatDiagnostic(first)}` : ''}`,
      { details: { file, diagnostics: parsed.diagnostics.slice(0, 100) } },
    );
  }
  return instantiatePipeline(parsed.pipeline, params);
}

/** The pipeline of a run request: `yaml` when given (named by `file`), else the file read from disk. */
export async function requestPipeline(body: {
  yaml?: string;
  file?: string;
  params: Record<string, Scalar>;
}): Promise<ConcretePipeline> {
  if (body.yaml === undefined && body.file === undefined) {
    throw new PipelineInvalidError(
      'a run request needs `yaml` (the pipeline text) or `file` (a path the orchestrator can read)',
    );
  }
  const file = body.file ?? INLINE_FILE;
  const text = body.yaml ?? (await readText(file));
  return compilePipeline(text, file, body.params);
}

/** The child pipeline a `pipeline` task of `parent` starts. */
export async function childPipeline(
  parent: ConcretePipeline,
  task: TaskOf<'pipeline'>,
  pipelinesDir?: string,
): Promise<ConcretePipeline> {
  const baseDir = parent.file ? dirname(resolve(parent.file)) : process.cwd();
  if (task.file !== undefined) {
    const file = resolve(baseDir, task.file);
    return compilePipeline(await readText(file), file, task.params);
  }
  const name = task.name!;
  const template = parent.templates[name];
  if (template) {
    // A template of the parent's file, run as a pipeline of its own.
    const doc = {
      name: `${parent.name}.${name}`,
      version: parent.version,
      parameters: template.parameters,
      templates: parent.templates,
      stages: template.stages,
    };
    return compilePipeline(stringify(doc), `${parent.file ?? INLINE_FILE}#${name}`, task.params);
  }
  const dirs = [baseDir, ...(pipelinesDir ? [resolve(pipelinesDir)] : [])];
  for (const dir of dirs) {
    for (const ext of ['.yaml', '.yml']) {
      const file = join(dir, `${name}${ext}`);
      if (existsSync(file)) return compilePipeline(await readText(file), file, task.params);
    }
  }
  throw new PipelineInvalidError(
    `no pipeline named "${name}": not a template of ${parent.name} nor a file in ${dirs.join(', ')}`,
    {
      details: { name },
    },
  );
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new PipelineInvalidError(`cannot read pipeline file ${file} (${reason})`, {
      details: {
        file,
        diagnostics: [{ file, line: 1, column: 1, code: 'io', message: `cannot read file (${reason})` }],
      },
    });
  }
}
