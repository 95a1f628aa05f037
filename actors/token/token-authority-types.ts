/** The token authority's inputs and answers (token-authority.ts), and how a run's end is named. */
import type { BodyOf } from '../../protocols/index.ts';

export type Governance = NonNullable<BodyOf<'run.event.v1'>['governance']>;
export type RunEvent = BodyOf<'run.event.v1'>;

export const RUN_END: Record<string, string> = {
  'run-succeeded': 'run-succeeded',
  'run-failed': 'run-failed',
  'run-cancelled': 'run-cancelled',
  'run-contained': 'run-contained',
};

export interface IssueInput {
  runId: string;
  pipeline?: string;
  parentRunId?: string;
  governance?: Governance;
}

export interface RevokeResult {
  runId: string;
  accessor?: string;
  revoked: boolean;
  revokedAt: number;
  reason: string;
  suspendedAgents: string[];
}
