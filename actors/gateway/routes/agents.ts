/**
 * `/api/agents`: the agent directory's view of the fleet (agent.status.v1).
 */
import { z } from 'zod';
import { catalog } from '../../../protocols/index.ts';
import { NotFoundError } from '../../../protocols/index.ts';
import { askService, relayService } from '../bus-call.ts';
import { defineRoute } from '../route-def.ts';
import { IdSchema } from '../schemas.ts';

export const listAgentsRoute = defineRoute({
  method: 'GET',
  url: '/api/agents',
  operationId: 'listAgents',
  summary: 'Every agent the directory knows',
  description: 'Asks the agent directory (agent.status.v1 → agent.states.v1), optionally for one team.',
  tag: 'agents',
  auth: 'T0',
  query: z.object({ team: z.string().min(1).max(128).optional() }),
  responses: { 200: { description: 'The agents', schema: catalog['agent.states.v1'] } },
  errors: [503, 504],
  async handle({ deps, query }) {
    return relayService(
      deps,
      deps.settings.services.agentDirectory,
      { type: 'agent.status.v1', body: { team: query.team } },
      ['agent.states.v1'],
    );
  },
});

export const getAgentRoute = defineRoute({
  method: 'GET',
  url: '/api/agents/:id',
  operationId: 'getAgent',
  summary: "One agent's state",
  description: 'Asks the agent directory for one agent (agent.status.v1 with `agentId`).',
  tag: 'agents',
  auth: 'T0',
  params: z.object({ id: IdSchema.describe('Agent id') }),
  responses: { 200: { description: 'The agent', schema: catalog['agent.state.v1'] } },
  errors: [404, 503, 504],
  async handle({ deps, params }) {
    const reply = await askService(
      deps,
      deps.settings.services.agentDirectory,
      { type: 'agent.status.v1', body: { agentId: params.id } },
      ['agent.state.v1', 'agent.states.v1'],
    );
    const agent =
      reply.type === 'agent.state.v1' ? reply.body : reply.body.agents.find((a) => a.agentId === params.id);
    if (!agent) throw new NotFoundError(`no agent ${params.id}`, { details: { agentId: params.id } });
    return { status: 200, body: agent };
  },
});

export const agentsRoutes = [listAgentsRoute, getAgentRoute];
