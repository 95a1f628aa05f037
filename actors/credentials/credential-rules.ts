/**
 * What the credential authority does about a command sent to an agent (pure). Commands reach an agent's
 * inbox only from system credentials (the control actor, the budget monitor, the token authority, a
 * checkpoint restore), so each is the system's decision; the authority follows it on the credential:
 * suspend, quarantine and terminate revoke at once, promote and demote reissue at the new tier (the old key
 * revoked once the agent holds the new one).
 */
import type { BodyOf } from '../../protocols/catalog.ts';
import { TIERS, type Tier, tierRank } from '../../protocols/vocabulary/tiers.ts';

export type CredentialAction =
  | { do: 'revoke'; reason: string }
  | { do: 'reissue'; tier: Tier }
  | { do: 'none' };

export function actionForCommand(command: BodyOf<'agent.command.v1'>, tier: Tier): CredentialAction {
  switch (command.command) {
    case 'suspend':
    case 'quarantine':
    case 'terminate':
      return { do: 'revoke', reason: `${command.command} by ${command.by}` };
    case 'promote': {
      const up = TIERS[Math.min(tierRank(tier) + 1, TIERS.length - 1)]!;
      return up === tier ? { do: 'none' } : { do: 'reissue', tier: up };
    }
    case 'demote': {
      const down = TIERS[Math.max(tierRank(tier) - 1, 0)]!;
      return down === tier ? { do: 'none' } : { do: 'reissue', tier: down };
    }
    default:
      return { do: 'none' };
  }
}
