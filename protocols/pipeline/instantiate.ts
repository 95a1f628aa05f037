/** `instantiatePipeline`: run-time parameters → a concrete pipeline. */
import { PipelineInvalidError } from '../vocabulary/errors.ts';
import { findRefs, hasRef, substituteDeep } from './interpolation.ts';
import type { ConcretePipeline, ConcreteStage, ResolvedPipeline } from './model.ts';
import { type ParameterSpec, type Scalar, StageSchema } from './schema.ts';
import { formatPath } from './source-locator.ts';

/**
 * Fills in `${{ params.x }}` with the given values over the declared defaults.
 * Strings are accepted for number and boolean parameters when they read as one
 * (`"5"`, `"true"`), as they come from a command line.
 * Throws PipelineInvalidError for an unknown, missing or mistyped parameter, and when a
 * filled-in value does not fit its field (e.g. a negative `timeoutMs`).
 */
export function instantiatePipeline(
  pipeline: ResolvedPipeline,
  params: Readonly<Record<string, Scalar>> = {},
): ConcretePipeline {
  const where = `pipeline "${pipeline.name}"`;
  const declared = Object.keys(pipeline.parameters);
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(pipeline.parameters, name)) {
      throw new PipelineInvalidError(
        `unknown parameter "${name}" for ${where} (declared: ${declared.join(', ') || 'none'})`,
        {
          details: { pipeline: pipeline.name, parameter: name },
        },
      );
    }
  }

  const values: Record<string, Scalar> = {};
  for (const [name, spec] of Object.entries(pipeline.parameters)) {
    const given = Object.hasOwn(params, name) ? params[name] : undefined;
    if (given === undefined && spec.default === undefined) {
      throw new PipelineInvalidError(`missing parameter "${name}" (a ${spec.type}) for ${where}`, {
        details: { pipeline: pipeline.name, parameter: name },
      });
    }
    values[name] = given === undefined ? (spec.default as Scalar) : coerce(name, spec, given, where);
  }

  const lookup = (name: string) => (Object.hasOwn(values, name) ? values[name] : undefined);
  const stages = pipeline.stages.map((stage) => {
    const { template, ...rest } = substituteDeep(stage, lookup);
    const { id: _id, needs: _needs, ...fields } = rest;
    const check = FIELDS_SCHEMA.safeParse(fields);
    const problems: string[] = check.success
      ? []
      : check.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    JSON.stringify(rest, (_k, v: unknown) => {
      if (typeof v === 'string' && hasRef(v))
        for (const r of findRefs(v)) problems.push(`unresolved reference ${r.text}`);
      return v;
    });
    if (problems.length > 0) {
      throw new PipelineInvalidError(
        `stage "${stage.id}" of ${where} is invalid with these parameters: ${problems.join('; ')}`,
        {
          details: { pipeline: pipeline.name, stage: stage.id },
        },
      );
    }
    const out = { ...rest } as ConcreteStage;
    if (template) out.template = template;
    return out;
  });

  return { ...pipeline, stages, params: values };
}

/** A stage's fields that parameters can reach (ids and needs cannot hold references). */
const FIELDS_SCHEMA = StageSchema.omit({ id: true, needs: true });

function coerce(name: string, spec: ParameterSpec, value: Scalar, where: string): Scalar {
  const fail = (): never => {
    throw new PipelineInvalidError(
      `parameter "${name}" of ${where} is a ${spec.type}, got ${typeof value} ${JSON.stringify(value)}`,
      {
        details: { parameter: name, expected: spec.type },
      },
    );
  };
  if (typeof value === 'string' && hasRef(value)) {
    throw new PipelineInvalidError(`parameter "${name}" of ${where} may not contain "\${{"`, {
      details: { parameter: name },
    });
  }
  if (typeof value === spec.type) return value;
  if (typeof value !== 'string') return fail();
  if (spec.type === 'number') {
    const n = Number(value);
    return value.trim() !== '' && Number.isFinite(n) ? n : fail();
  }
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail();
}
