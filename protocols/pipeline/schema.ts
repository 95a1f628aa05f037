/**
 * The pipeline file format, defined once with zod: the runtime validates with these
 * schemas and docs/schemas/pipeline.schema.json is generated from them
 * (see `pipelineJsonSchema()` in json-schema.ts).
 */
import * as z from 'zod';
import {
  DEFAULT_DIAGNOSTIC_PIPELINE,
  DEFAULT_ERROR_BUDGET_BREACH_RATIO,
  DEFAULT_ERROR_BUDGET_WARN_RATIO,
  DEFAULT_EXEC_MAX_OUTPUT_BYTES,
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_RETRIES_MAX,
  DEFAULT_RETRY_BACKOFF_MS,
  DEFAULT_RETRY_FACTOR,
  DEFAULT_RETRY_MAX_BACKOFF_MS,
  DEFAULT_SLO_BREACH_BURN_RATE,
  DEFAULT_SLO_BURN_WINDOW_MS,
  DEFAULT_SLO_WARN_BURN_RATE,
  DEFAULT_SCHEDULE_TO_START_MS,
  DEFAULT_STAGE_TIMEOUT_MS,
  DEFAULT_TOKEN_MAX_TTL_MS,
  DEFAULT_TOKEN_RENEW_EVERY_MS,
  DEFAULT_TOKEN_TTL_MS,
  isSystemEnvName,
  MAX_EXEC_OUTPUT_BYTES,
  SYSTEM_ENV_PREFIXES,
} from './options.ts';
import { TIERS } from '../vocabulary/tiers.ts';

/** Stage ids, template names and `as` namespaces: no dots (dots join namespaces). */
export const IDENT_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Parameter names, as written in `${{ params.NAME }}`. */
export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment variable names. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ident = (what: string) =>
  z.string().regex(IDENT_PATTERN, {
    error: `${what} must match ${IDENT_PATTERN.source} (letters, digits, _ and -; no dots)`,
  });
const paramName = z
  .string()
  .regex(PARAM_NAME_PATTERN, { error: `parameter names must match ${PARAM_NAME_PATTERN.source}` });
const envName = z
  .string()
  .regex(ENV_NAME_PATTERN, { error: `environment variable names must match ${ENV_NAME_PATTERN.source}` });
/** A task's own variable: never one of the system's (SYSTEM_ENV_PREFIXES). */
const taskEnvName = envName.refine((n) => !isSystemEnvName(n), {
  error: `system variables (${SYSTEM_ENV_PREFIXES.join(', ')}…) never reach a task`,
});

/** A whole-value parameter reference, e.g. `${{ params.timeout }}`, allowed where a number is expected. */
export const ParamRefSchema = z.templateLiteral(['${{', z.string(), '}}']);
export type ParamRef = z.infer<typeof ParamRefSchema>;

// biome-ignore lint/suspicious/noTemplateCurlyInString: the DSL's own reference syntax, not a JS template.
const REF_HINT = 'or a "${{ params.NAME }}" reference';
const intOrRef = (inner: z.ZodNumber, what: string) =>
  z.union([inner, ParamRefSchema], { error: `expected ${what} ${REF_HINT}` });
const positiveMs = () => intOrRef(z.number().int().positive(), 'a positive integer (milliseconds)');
const nonNegativeInt = () => intOrRef(z.number().int().nonnegative(), 'a non-negative integer');

export const ScalarSchema = z.union([z.string(), z.number(), z.boolean()]);
export type Scalar = z.infer<typeof ScalarSchema>;

export const PARAMETER_TYPES = ['string', 'number', 'boolean'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

export const ParameterSpecSchema = z
  .strictObject({
    type: z.enum(PARAMETER_TYPES),
    default: ScalarSchema.optional(),
    description: z.string().optional(),
  })
  .meta({
    description: 'A parameter: its type, an optional default (without one it is required) and a description.',
  });
export type ParameterSpec = z.output<typeof ParameterSpecSchema>;

const ParametersSchema = z.record(paramName, ParameterSpecSchema);

// ---- tasks -------------------------------------------------------------------------------

export const NoopTaskSchema = z
  .strictObject({ kind: z.literal('noop') })
  .meta({ description: 'Does nothing and succeeds. T0+.' });

export const SleepTaskSchema = z
  .strictObject({ kind: z.literal('sleep'), ms: nonNegativeInt() })
  .meta({ description: 'Waits `ms` milliseconds and succeeds. T0+.' });

export const FailTaskSchema = z
  .strictObject({ kind: z.literal('fail'), message: z.string().optional(), code: z.string().optional() })
  .meta({ description: 'Fails at once with `message` and `code`; for tests and drills. T0+.' });

export const ExecEnvSchema = z
  .strictObject({
    pass: z
      .array(taskEnvName)
      .default([])
      .meta({ description: 'Names of variables passed through from the agent environment.' }),
    set: z
      .record(taskEnvName, z.string())
      .default({})
      .meta({ description: 'Variables set to explicit values.' }),
  })
  .meta({ description: 'Environment of the command: nothing is inherited unless listed in `pass`.' });

export const ExecTaskSchema = z
  .strictObject({
    kind: z.literal('exec'),
    command: z.array(z.string()).min(1, { error: 'command needs at least the program name' }).meta({
      description: 'argv: program then arguments; no shell is involved.',
    }),
    cwd: z.string().optional(),
    env: ExecEnvSchema.prefault({}),
    timeoutMs: positiveMs().default(DEFAULT_EXEC_TIMEOUT_MS),
    maxOutputBytes: intOrRef(
      z.number().int().positive().max(MAX_EXEC_OUTPUT_BYTES),
      `a positive integer (bytes) up to ${MAX_EXEC_OUTPUT_BYTES}`,
    ).default(DEFAULT_EXEC_MAX_OUTPUT_BYTES),
    network: z.boolean().default(false).meta({
      description: 'Give the sandbox the network (needs a T2 stage); without it the task has none.',
    }),
  })
  .meta({
    description: 'Runs a command (argv, no shell) in the bubblewrap sandbox. T1+ (T2 with `network`).',
  });

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const HttpTaskSchema = z
  .strictObject({
    kind: z.literal('http'),
    url: z.string().refine((s) => s.includes('${{') || URL.canParse(s), {
      error: 'url must be an absolute URL (it may hold references)',
    }),
    method: z.enum(HTTP_METHODS),
    headers: z.record(z.string(), z.string()).default({}),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown())])
      .optional()
      .meta({
        description: 'A string is sent as is; an object is sent as JSON.',
      }),
    expectStatus: intOrRef(z.number().int().min(100).max(599), 'an HTTP status (100-599)')
      .optional()
      .meta({ description: 'Status that counts as success; without it any 2xx does.' }),
  })
  .meta({ description: 'Sends an HTTP request. T1+.' });

export const PipelineTaskSchema = z
  .strictObject({
    kind: z.literal('pipeline'),
    file: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Path of the child pipeline file, relative to this file.' }),
    name: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Name of a registered pipeline, or of a template in this file.' }),
    params: z.record(paramName, ScalarSchema).default({}),
  })
  .refine((t) => (t.file === undefined) !== (t.name === undefined), {
    error: 'a pipeline task names exactly one of `file` or `name`',
  })
  .meta({ description: 'Starts a child pipeline and waits for it. T1+.' });

export const TaskSchema = z.discriminatedUnion('kind', [
  NoopTaskSchema,
  SleepTaskSchema,
  FailTaskSchema,
  ExecTaskSchema,
  HttpTaskSchema,
  PipelineTaskSchema,
]);
export type Task = z.output<typeof TaskSchema>;
export type TaskOf<K extends Task['kind']> = Extract<Task, { kind: K }>;

// ---- stages ------------------------------------------------------------------------------

export const AgentSelectorSchema = z
  .strictObject({
    tier: z
      .enum(TIERS)
      .optional()
      .meta({ description: 'Minimum tier; defaults to the lowest tier the task kind allows.' }),
    role: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
  })
  .meta({ description: 'Which agents may run the stage.' });

export const RetriesSchema = z
  .strictObject({
    max: nonNegativeInt().meta({ description: 'Retries after the first attempt.' }),
    backoffMs: intOrRef(z.number().int().nonnegative(), 'a non-negative integer (milliseconds)'),
    factor: intOrRef(z.number().min(1), 'a number >= 1').default(DEFAULT_RETRY_FACTOR),
    maxBackoffMs: intOrRef(z.number().int().nonnegative(), 'a non-negative integer (milliseconds)').default(
      DEFAULT_RETRY_MAX_BACKOFF_MS,
    ),
  })
  .meta({ description: 'Retry policy: pause n is min(backoffMs * factor^(n-1), maxBackoffMs).' });
export type Retries = z.output<typeof RetriesSchema>;

export const ON_FAILURE = ['fail', 'continue', 'skip-dependents'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

export const StageSchema = z
  .strictObject({
    id: ident('stage ids'),
    description: z.string().optional(),
    needs: z
      .array(z.string())
      .default([])
      .meta({ description: 'Stages (or template instances) that must succeed first.' }),
    agent: AgentSelectorSchema.optional(),
    task: TaskSchema,
    timeoutMs: positiveMs().default(DEFAULT_STAGE_TIMEOUT_MS),
    scheduleToStartMs: positiveMs().default(DEFAULT_SCHEDULE_TO_START_MS).meta({
      description:
        'Longest the stage may wait, once ready, for an agent to take it; then the attempt fails (GOV_ERR_SCHEDULE_TO_START_TIMEOUT) and counts.',
    }),
    retries: RetriesSchema.prefault({ max: DEFAULT_RETRIES_MAX, backoffMs: DEFAULT_RETRY_BACKOFF_MS }),
    onFailure: z.enum(ON_FAILURE).default('fail').meta({
      description:
        'fail: fail the run; continue: treat as done; skip-dependents: skip every stage that needs it.',
    }),
  })
  .meta({ description: 'A stage: one task run by one agent once its `needs` are done.' });
export type StageDef = z.output<typeof StageSchema>;

export const UsesEntrySchema = z
  .strictObject({
    uses: ident('template names').meta({ description: 'Name of a template under `templates`.' }),
    as: ident('namespaces')
      .optional()
      .meta({ description: 'Namespace of the template stage ids (`as: build` gives `build.compile`).' }),
    idPrefix: ident('namespaces').optional().meta({ description: 'Same as `as`.' }),
    with: z.record(paramName, ScalarSchema).default({}),
    needs: z
      .array(z.string())
      .default([])
      .meta({ description: 'Inherited by the template stages that need nothing inside it.' }),
  })
  .refine((u) => u.as === undefined || u.idPrefix === undefined, {
    error: 'use either `as` or `idPrefix`, not both',
    path: ['idPrefix'],
  })
  .meta({ description: 'Pulls in the stages of a template, namespaced.' });
export type UsesEntry = z.output<typeof UsesEntrySchema>;

export const StageEntrySchema = z.union([StageSchema, UsesEntrySchema]);
export type StageEntry = z.output<typeof StageEntrySchema>;

export const TemplateSchema = z
  .strictObject({
    description: z.string().optional(),
    parameters: ParametersSchema.default({}),
    stages: z.array(StageEntrySchema).min(1, { error: 'a template needs at least one stage' }),
  })
  .meta({ description: 'Reusable stages with their own parameters.' });
export type Template = z.output<typeof TemplateSchema>;

// ---- error budget and token -----------------------------------------------------------------

const ratio = (def: number) => z.number().gt(0).max(1).default(def);
const budgetCommon = {
  warn: ratio(DEFAULT_ERROR_BUDGET_WARN_RATIO).meta({
    description: 'Share of the budget spent that raises a warning.',
  }),
  breach: ratio(DEFAULT_ERROR_BUDGET_BREACH_RATIO).meta({
    description: 'Share of the budget spent that is a breach.',
  }),
  diagnostic: z.string().min(1).default(DEFAULT_DIAGNOSTIC_PIPELINE).meta({
    description: 'Diagnostic pipeline (or template of this file) spawned on a breach.',
  }),
};
const warnNotAboveBreach = { error: '`warn` must not be above `breach`', path: ['warn'] };

export const CountBudgetSchema = z
  .strictObject({
    maxErrors: z.number().int().nonnegative(),
    windowMs: z.number().int().positive(),
    ...budgetCommon,
  })
  .refine((b) => b.warn <= b.breach, warnNotAboveBreach)
  .meta({ description: 'At most `maxErrors` failed stages within a sliding `windowMs`.' });

export const SloBudgetSchema = z
  .strictObject({
    slo: z.number().gt(0).lt(1).meta({ description: 'Target success ratio, e.g. 0.99.' }),
    periodMs: z.number().int().positive(),
    burnWindowMs: z.number().int().positive().default(DEFAULT_SLO_BURN_WINDOW_MS),
    warnBurnRate: z.number().positive().default(DEFAULT_SLO_WARN_BURN_RATE),
    breachBurnRate: z.number().positive().default(DEFAULT_SLO_BREACH_BURN_RATE),
    ...budgetCommon,
  })
  .refine((b) => b.warn <= b.breach, warnNotAboveBreach)
  .refine((b) => b.warnBurnRate <= b.breachBurnRate, {
    error: '`warnBurnRate` must not be above `breachBurnRate`',
    path: ['warnBurnRate'],
  })
  .meta({ description: 'SLO form: (1 - slo) of the stage runs in `periodMs` may fail.' });

export const ErrorBudgetSchema = z.union([CountBudgetSchema, SloBudgetSchema]);

export const TokenSettingsSchema = z
  .strictObject({
    ttlMs: z.number().int().positive().default(DEFAULT_TOKEN_TTL_MS),
    renewEveryMs: z.number().int().positive().default(DEFAULT_TOKEN_RENEW_EVERY_MS),
    maxTtlMs: z.number().int().positive().default(DEFAULT_TOKEN_MAX_TTL_MS),
    policies: z.array(z.string().min(1)).default([]),
  })
  .refine((t) => t.renewEveryMs < t.ttlMs, {
    error: '`renewEveryMs` must be below `ttlMs`',
    path: ['renewEveryMs'],
  })
  .refine((t) => t.ttlMs <= t.maxTtlMs, { error: '`ttlMs` must not be above `maxTtlMs`', path: ['ttlMs'] })
  .meta({ description: 'The run token: lifetime, renewal and Vault policies.' });
export type TokenSettings = z.output<typeof TokenSettingsSchema>;

// ---- the file -------------------------------------------------------------------------------

export const PipelineFileSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: 'Editors may point this at pipeline.schema.json.' }),
    name: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, { error: 'pipeline names use letters, digits, _ . and -' }),
    version: z.union([z.string().min(1), z.number()]),
    description: z.string().optional(),
    parameters: ParametersSchema.default({}),
    templates: z.record(ident('template names'), TemplateSchema).default({}),
    stages: z.array(StageEntrySchema).min(1, { error: 'a pipeline needs at least one stage' }),
    errorBudget: ErrorBudgetSchema.optional(),
    token: TokenSettingsSchema.prefault({}),
  })
  .meta({ title: 'agent-governance pipeline', description: 'A pipeline of stages run by governed agents.' });
export type PipelineFile = z.output<typeof PipelineFileSchema>;
