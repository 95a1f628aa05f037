/**
 * Where the orchestrator gets pipelines from: a run request (`yaml` text and/or a `file` path),
 * and the child pipeline of a `pipeline` task (`file` relative to the parent's file, or `name`: a
 * template of the parent's file, else `<name>.yaml` beside the parent or in the pipelines folder).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { PipelineInvalidError } from '../../protocols/vocabulary/errors.ts';
import {
  checkPipelineName,
  checkPipelineRef,
  type ConcretePipeline,
  formatDiagnostic,
  type LoadPipeline,
  type PipelineRef,
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
/** SHA-256 (hex) of the text each compiled pipeline came from: `run-accepted` records it (evidence packages). */
const sourceSha256 = new WeakMap<ConcretePipeline, string>();

/** The SHA-256 of the pipeline file's text a compiled pipeline came from (undefined for one not compiled here). */
export function pipelineSha256(p: ConcretePipeline): string | undefined {
  return sourceSha256.get(p);
}

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
  sourceSha256.set(pipeline, createHash('sha256').update(text, 'utf8').digest('hex'));
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

/**
 * Folders a reference of `parent` may resolve in: the folder of the parent's own file (when it was
 * read from one) and the configured pipelines folder. Never the working directory: an inline pipeline
 * (sent as text) reaches only the pipelines folder.
 */
export function pipelineDirs(parent: { file?: string }, pipelinesDir?: string): string[] {
  const dirs: string[] = [];
  const own = parent.file?.split('#')[0];
  if (own && own !== INLINE_FILE) dirs.push(dirname(resolve(own)));
  if (pipelinesDir) dirs.push(resolve(pipelinesDir));
  return dirs;
}

/**
 * The file a reference names, looked up only inside `dirs`: a `file` (relative, no `..`:
 * checkPipelineRef) or a `name` (`<name>.yaml|.yml`). Undefined when there is none.
 * @throws PolicyViolationError for an absolute or escaping reference.
 */
export function findPipelineFile(ref: PipelineRef, dirs: readonly string[]): string | undefined {
  const candidates: string[] = [];
  if (ref.file !== undefined) {
    checkPipelineRef(ref.file);
    for (const dir of dirs) candidates.push(resolve(dir, ref.file));
  } else if (ref.name !== undefined) {
    checkPipelineName(ref.name);
    for (const dir of dirs)
      for (const ext of ['.yaml', '.yml']) candidates.push(join(dir, `${ref.name}${ext}`));
  }
  return candidates.find((f) => dirs.some((d) => !relative(d, f).startsWith('..')) && existsSync(f));
}

/** The loader admission walks child pipelines with (protocols/pipeline/effective-tier.ts). */
export function pipelineLoader(pipelinesDir?: string): LoadPipeline {
  return async (ref, from) => {
    const file = findPipelineFile(ref, pipelineDirs(from, pipelinesDir));
    if (!file) return undefined;
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const parsed = parsePipeline(text, file);
    return parsed.ok ? parsed.pipeline : undefined;
  };
}

/** The child pipeline a `pipeline` task of `parent` starts. */
export async function childPipeline(
  parent: ConcretePipeline,
  task: TaskOf<'pipeline'>,
  pipelinesDir?: string,
): Promise<ConcretePipeline> {
  if (task.name !== undefined && parent.templates[task.name]) {
    // A template of the parent's file, run as a pipeline of its own.
    return compilePipeline(
      stringify(templateDoc(parent, task.name)),
      `${parent.file ?? INLINE_FILE}#${task.name}`,
      task.params,
    );
  }
  const dirs = pipelineDirs(parent, pipelinesDir);
  const file = findPipelineFile(task, dirs);
  if (!file) {
    const what =
      task.file !== undefined ? `file ${JSON.stringify(task.file)}` : `pipeline named "${task.name}"`;
    throw new PipelineInvalidError(
      `no ${what}: not a template of ${parent.name} nor a file in ${dirs.join(', ') || '(no pipelines folder configured)'}`,
      { details: { ...(task.file !== undefined ? { file: task.file } : { name: task.name }) } },
    );
  }
  return compilePipeline(await readText(file), file, task.params);
}

function templateDoc(parent: ConcretePipeline, name: string) {
  const template = parent.templates[name]!;
  return {
    name: `${parent.name}.${name}`,
    version: parent.version,
    parameters: template.parameters,
    templates: parent.templates,
    stages: template.stages,
  };
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
