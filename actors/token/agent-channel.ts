/**
 * How the token authority reaches agents: each agent's inbox, in the encoding it asked for (run
 * events' `agentEncoding`; everyone else gets msgpack), child tokens only response-wrapped
 * (`agent.credentials.v2`: the bus carries a single-use wrapping token, never the child token), and
 * its commands (suspend, quarantine, release) sent as T2.
 */
import type { Bus } from '../../bus/index.ts';
import { actorInbox, type BodyIn, type OutMessage } from '../../protocols/index.ts';
import type { TokenAuthorityArgs } from './token-options.ts';
import type { IssuedToken } from './vault-client.ts';
import { wrapSecret } from './vault-wrapping.ts';

type Encoding = 'msgpack' | 'json';

export interface AgentChannelDeps {
  bus: Bus;
  args: Pick<TokenAuthorityArgs, 'agentKind' | 'vaultAddr' | 'vaultToken' | 'childWrapTtlMs'>;
}

/** Where a child token goes: its agent's attempt at a stage of a run. */
export interface ChildDelivery {
  runId: string;
  agentId: string;
  stageId: string | undefined;
  attempt: number | undefined;
  expiresAt: number;
}

export class AgentChannel {
  /**
   * Agents that asked for JSON deliveries; the durable consumer replays the run events after a
   * restart, so this is rebuilt.
   */
  private readonly encodings = new Map<string, Encoding>();

  constructor(private readonly deps: AgentChannelDeps) {}

  /** Remembers the encoding an agent asked for. */
  noteEncoding(agentId: string, encoding: Encoding): void {
    this.encodings.set(agentId, encoding);
  }

  /** Tells an agent's inbox, in the encoding it asked for. */
  tell(agentId: string, msg: OutMessage): void {
    this.deps.bus.tell(actorInbox(this.deps.args.agentKind, agentId), msg, {
      encoding: this.encodings.get(agentId),
    });
  }

  /** An operator command from the authority, as T2. */
  command(
    agentId: string,
    command: BodyIn<'agent.command.v1'>['command'],
    reason: string,
    runId: string | undefined,
  ): void {
    this.tell(agentId, {
      type: 'agent.command.v1',
      body: { command, byTier: 'T2', by: 'token-authority', reason },
      run: runId,
    });
  }

  /** Wraps the child token in Vault and tells its agent the wrapping token. */
  async sendChildToken(to: ChildDelivery, child: IssuedToken): Promise<void> {
    const { args } = this.deps;
    const wrapped = await wrapSecret(
      args.vaultAddr,
      args.vaultToken,
      { token: child.token, accessor: child.accessor },
      Math.ceil(args.childWrapTtlMs / 1000),
    );
    this.tell(to.agentId, {
      type: 'agent.credentials.v2',
      body: {
        runId: to.runId,
        wrappingToken: wrapped.wrappingToken,
        wrapTtlS: wrapped.ttlS,
        accessor: child.accessor,
        expiresAt: to.expiresAt,
        policies: child.policies,
        stageId: to.stageId,
        ...(to.attempt === undefined ? {} : { attempt: to.attempt }),
      },
      run: to.runId,
    });
  }
}
