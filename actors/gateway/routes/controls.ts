/**
 * Operator controls over HTTP (docs/http-api.md "Operator controls"): each route sends one
 * control.command.v1 to the control actor on `gov.ctl.<key tier>.<this gateway>`, naming the key
 * (`onBehalfOf`), and answers with its control.result.v1. The route's tier is checked here and the
 * control actor checks it again from the subject, which the broker lets this gateway use only under
 * its own name. Every call is audited here (api.call.v1) and by the control actor (control.result.v1).
 */
import { z } from 'zod';
import {
  AGENT_CONTROLS,
  type BodyIn,
  catalog,
  controlSubject,
  InternalError,
  RUN_CONTROLS,
} from '../../../protocols/index.ts';
import type { Caller } from '../auth.ts';
import { defineRoute, type GatewayDeps, type RouteResult } from '../route-def.ts';
import { IdSchema, RunIdSchema } from '../schemas.ts';

const ReasonSchema = z
  .strictObject({
    reason: z.string().min(1).max(1_024).optional().describe('Why (kept in the audit record)'),
  })
  .default({});
const resultResponse = { description: 'What the control did', schema: catalog['control.result.v1'] };

async function control(
  deps: GatewayDeps,
  caller: Caller,
  cmd: BodyIn<'control.command.v1'>,
): Promise<RouteResult> {
  const reply = await deps.bus.ask(
    controlSubject(caller.tier, deps.bus.principal()),
    { type: 'control.command.v1', body: { ...cmd, onBehalfOf: caller.name } },
    { timeoutMs: deps.settings.askTimeoutMs },
  );
  if (reply.type !== 'control.result.v1')
    throw new InternalError(`the control actor answered ${reply.type}`, { details: { type: reply.type } });
  return { status: 200, body: reply.body, ...(cmd.on === 'agent' ? {} : { runId: cmd.id }) };
}

/** What a control acts on and does: one of the pairs control.command.v1 allows. */
type ControlTarget =
  BodyIn<'control.command.v1'> extends infer C
    ? C extends { on: infer O; command: infer K }
      ? { on: O; command: K }
      : never
    : never;

/**
 * A T2 operator control over HTTP: POST, audited, a `{ reason? }` body, the id in the path, answered
 * with what the control did.
 */
function t2ControlRoute(
  target: ControlTarget,
  doc: { url: string; operationId: string; summary: string; description: string; tag: string },
  idSchema: z.ZodType<string>,
  errors: number[],
) {
  return defineRoute({
    method: 'POST',
    ...doc,
    auth: 'T2',
    audit: true,
    params: z.object({ id: idSchema }),
    body: ReasonSchema,
    responses: { 200: resultResponse },
    errors,
    handle: ({ deps, caller, params, body }) =>
      control(deps, caller!, { ...target, id: params.id, reason: body.reason }),
  });
}

const capitalized = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;

const agentRoute = (command: (typeof AGENT_CONTROLS)[number]) =>
  t2ControlRoute(
    { on: 'agent', command },
    {
      url: `/api/agents/:id/${command}`,
      operationId: `${command}Agent`,
      summary: `${capitalized(command)} an agent`,
      description:
        `Operator control: agent.command.v1 \`${command}\` through the control actor, done by this key. ` +
        (command === 'release' ? 'Takes the agent out of quarantine (back to bootstrapping). ' : '') +
        (command === 'drain'
          ? 'The agent takes no new task; its current one runs to its end, then it is suspended (resume undoes it). '
          : '') +
        'T2; audited with the key name.',
      tag: 'agents',
    },
    IdSchema.describe('Agent id'),
    [404, 409, 503, 504],
  );

const runRoute = (command: (typeof RUN_CONTROLS)[number]) =>
  t2ControlRoute(
    { on: 'run', command },
    {
      url: `/api/pipelines/:id/${command}`,
      operationId: `${command}Run`,
      summary: `${capitalized(command)} a run`,
      description:
        `Operator control: run.${command}.v1 through the control actor. ` +
        (command === 'pause'
          ? 'No stage of the run is dispatched until resume; tasks already running finish. '
          : '') +
        'T2; audited with the key name.',
      tag: 'pipelines',
    },
    RunIdSchema,
    [404, 409, 503, 504],
  );

export const budgetShowRoute = defineRoute({
  method: 'GET',
  url: '/api/budgets/:id',
  operationId: 'showBudget',
  summary: "A run's error budget",
  description: 'Operator control `budget show` (budget.status.v1 through the control actor).',
  tag: 'pipeline',
  auth: 'T0',
  params: z.object({ id: RunIdSchema }),
  responses: { 200: resultResponse },
  errors: [404, 503, 504],
  handle: ({ deps, caller, params }) =>
    control(deps, caller!, { on: 'budget', id: params.id, command: 'show' }),
});

export const budgetResetRoute = t2ControlRoute(
  { on: 'budget', command: 'reset' },
  {
    url: '/api/budgets/:id/reset',
    operationId: 'resetBudget',
    summary: "Reset a run's error budget",
    description: "Operator control: budget.reset.v1 forgets the run's counted outcomes. T2; audited.",
    tag: 'pipeline',
  },
  RunIdSchema,
  [404, 503, 504],
);

export const tokenRevokeRoute = t2ControlRoute(
  { on: 'token', command: 'revoke' },
  {
    url: '/api/tokens/:id/revoke',
    operationId: 'revokeRunToken',
    summary: "Revoke a run's token and its children",
    description: 'Operator control: token.revoke.v1 for the run, through the control actor. T2; audited.',
    tag: 'pipeline',
  },
  RunIdSchema,
  [404, 503, 504],
);

export const controlRoutes = [
  ...AGENT_CONTROLS.map(agentRoute),
  ...RUN_CONTROLS.map(runRoute),
  budgetShowRoute,
  budgetResetRoute,
  tokenRevokeRoute,
];
