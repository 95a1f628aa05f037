/**
 * Vault policies of run and agent tokens, derived from tiers (pure).
 *
 * - A run token carries `agov-run` (may create child tokens), one `agov-tier-<t>` per tier its stages
 *   use, and the policies the pipeline declares.
 * - An agent's child token carries the tier policies up to the agent's stage tier that the run has
 *   (a child's policies must be a subset of its parent's), never `agov-run`: agents cannot mint tokens.
 */
import { TIERS, type Tier, tierRank } from '../../protocols/index.ts';
import { RUN_POLICY } from './token-options.ts';

export function tierPolicy(tier: Tier): string {
  return `agov-tier-${tier.toLowerCase()}`;
}

const norm = (names: Iterable<string>) =>
  [...new Set([...names].map((p) => p.trim().toLowerCase()).filter(Boolean))].sort();

/** Policies of a run's token. */
export function runPolicies(tiers: readonly Tier[], declared: readonly string[] = []): string[] {
  return norm([RUN_POLICY, ...tiers.map(tierPolicy), ...declared]);
}

/** The lowest tier among `tiers` (T0 when empty). */
export function lowestTier(tiers: readonly Tier[]): Tier {
  return [...tiers].sort((a, b) => tierRank(a) - tierRank(b))[0] ?? 'T0';
}

/** The tier an agent's child token is scoped to: its stage's tier, else the run's lowest. */
export function childTier(
  runTiers: readonly Tier[],
  stageTiers: Readonly<Record<string, Tier>> | undefined,
  stageId: string | undefined,
): Tier {
  const declared = stageId !== undefined ? stageTiers?.[stageId] : undefined;
  return declared ?? lowestTier(runTiers);
}

/** Policies of an agent's child token: the run's tier policies up to `tier` (at least the lowest one the run has). */
export function childPolicies(tier: Tier, runTiers: readonly Tier[]): string[] {
  const have = TIERS.filter((t) => runTiers.includes(t));
  const upTo = have.filter((t) => tierRank(t) <= tierRank(tier));
  return norm((upTo.length > 0 ? upTo : have.slice(0, 1)).map(tierPolicy));
}

/** Policy documents the authority writes into Vault when `ensurePolicies` is on. */
export function policyDocuments(): Record<string, string> {
  const docs: Record<string, string> = {
    [RUN_POLICY]: 'path "auth/token/create" { capabilities = ["create", "update"] }\n',
  };
  for (const t of TIERS)
    docs[tierPolicy(t)] = `path "secret/data/agov/${t.toLowerCase()}/*" { capabilities = ["read"] }\n`;
  return docs;
}
