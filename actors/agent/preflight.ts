/**
 * The agent's preflight, run on entering `bootstrapping`: its tier is valid, its lifecycle store
 * answers, its work dir is writable. The first failure is returned as a typed error (the lifecycle
 * then goes to `failed`); nothing is thrown.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentUnavailableError, ConfigError, type GovError, toGovError } from '../../protocols/index.ts';
import type { AgentOptions } from './agent-options.ts';

export interface PreflightDeps {
  opts: Pick<AgentOptions, 'tierValid' | 'requestedTier' | 'workDir'>;
  /** Resolves when the lifecycle store answers. */
  pingStore(): Promise<unknown>;
  /** Names the probe file written in the work dir (unique to this agent incarnation). */
  probeName: string;
}

/** Tier valid, lifecycle store reachable, work dir writable; the first that is not, as an error. */
export async function preflightCheck(deps: PreflightDeps): Promise<GovError | undefined> {
  const { opts } = deps;
  if (!opts.tierValid)
    return new ConfigError(`tier ${JSON.stringify(opts.requestedTier)} is not one of T0, T1, T2`);
  try {
    await deps.pingStore();
  } catch (err) {
    return new AgentUnavailableError(`lifecycle store unreachable: ${toGovError(err).message}`, {
      cause: err,
    });
  }
  try {
    await mkdir(opts.workDir, { recursive: true });
    const probe = join(opts.workDir, deps.probeName);
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
  } catch (err) {
    return new ConfigError(`work dir ${opts.workDir} is not writable: ${toGovError(err).message}`, {
      cause: err,
    });
  }
  return undefined;
}
