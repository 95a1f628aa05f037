/**
 * Lifecycle of one governed agent, as a pure XState v5 machine.
 *
 * ```
 *            BOOTSTRAP            PREFLIGHT_OK          ASSIGN_TASK (tier allows)
 *  created ───────────▶ bootstrapping ─────────▶ idle ◀───────────────────────▶ working
 *                          │   ▲                 │  ▲    TASK_DONE / TASK_FAILED    │
 *         PREFLIGHT_FAILED │   │ BOOTSTRAP       │  │ RESUME (credentials valid)    │
 *                / CRASH   ▼   │ (retries left)  ▼  │                               │
 *                         failed ◀── CRASH ── suspended ◀────────── SUSPEND ────────┘
 *
 *  DRAIN: idle ──▶ suspended at once; working ──▶ the task runs to its end, then suspended (not idle)
 *  any live state ── QUARANTINE ──▶ quarantined ── RELEASE by T2 ──▶ bootstrapping
 *  any live state ── TERMINATE ───▶ terminated (final)
 * ```
 *
 * | state         | meaning                                                                     |
 * | ------------- | --------------------------------------------------------------------------- |
 * | created       | spawned, nothing checked yet                                                |
 * | bootstrapping | preflight checks and credential issue are running (hook `runPreflight`)     |
 * | idle          | ready for a task                                                            |
 * | working       | running `context.currentTask`                                               |
 * | suspended     | credentials revoked or budget exhausted; RESUME returns to idle once the    |
 * |               | credentials are valid again (CREDENTIALS_RENEWED)                           |
 * | failed        | preflight failed or the agent crashed; BOOTSTRAP retries while              |
 * |               | `restarts < maxRestarts`                                                    |
 * | quarantined   | policy violation; only RELEASE from a T2 leaves it (back to bootstrapping,  |
 * |               | so preflight and credentials are checked afresh)                            |
 * | terminated    | final                                                                       |
 *
 * Events not listed for a state are ignored: the state and context stay as they were
 * ({@link allowedEvents} lists them per state; {@link canAccept} tells whether one would be taken).
 *
 * Tier rules (see `tiers.ts`):
 * - ASSIGN_TASK is taken only when the agent's tier may run the task's kind and is at least the
 *   task's `requiredTier`. Otherwise the agent stays idle, a violation is appended to
 *   `context.violations` and the `reportPolicyViolation` hook is called with it.
 * - PROMOTE / DEMOTE / RELEASE are obeyed only when `byTier` is T2; otherwise (or when the tier is
 *   already at its bound) nothing changes and the `rejectCommand` hook is called.
 * - A DEMOTE that leaves the agent unable to run its current task aborts that task (working → idle).
 *
 * I/O is not done here. Named action hooks default to no-ops and are supplied by the agent actor:
 * `lifecycleMachine.provide({ actions: { runPreflight: ..., startTask: ... } })`.
 * Hooks: runPreflight, startTask, abortTask, reportPolicyViolation, rejectCommand, tierChanged,
 * releaseResources. Each receives its facts as `params`.
 *
 * Persistence: `actor.getPersistedSnapshot()` is plain JSON; {@link restoreLifecycle} rebuilds an actor
 * in the persisted state with its context. Entry hooks are not re-run on restore (XState semantics):
 * an agent restored in `bootstrapping` must run its preflight again itself.
 */
import { assign, createActor, setup } from 'xstate';
import type { Actor, AnyStateMachine, SnapshotFrom } from 'xstate';
import { DecodeError, HIGHEST_TIER, isTier, LOWEST_TIER, type Tier } from '../../protocols/index.ts';
import {
  appendViolation,
  nextTier,
  policyViolation,
  rejection,
  taskViolation,
  tierAllowsTask,
  toLifecycleError,
} from './lifecycle-rules.ts';
import {
  isLifecycleState,
  type LifecycleContext,
  type LifecycleEvent,
  type LifecycleEventType,
  type LifecycleInput,
  type LifecycleState,
  type LifecycleTask,
  type PolicyViolation,
  type RejectedCommand,
  type SuspendReason,
} from './lifecycle-types.ts';
import { canPerform } from './tiers.ts';

export * from './lifecycle-types.ts';
export { requiredTierForTask, tierAllowsTask } from './lifecycle-rules.ts';

/** Bootstrap retries allowed from `failed` before BOOTSTRAP is refused. */
export const DEFAULT_MAX_BOOTSTRAP_RETRIES = 3;
/** Violations kept in `context.violations` (oldest dropped first). */
export const DEFAULT_VIOLATION_HISTORY_LIMIT = 100;
/** Tier of an agent whose input names none: least privilege. */
export const DEFAULT_AGENT_TIER: Tier = 'T0';

// ---------------------------------------------------------------------------------------------
// Machine

const lifecycleSetup = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
  },
  actions: {
    // ---- hooks: no-ops here, provided by the agent actor ----
    /** Entry of bootstrapping: run preflight checks and obtain credentials, then send PREFLIGHT_OK / PREFLIGHT_FAILED. */
    runPreflight: (_, _params: { agentId: string; tier: Tier; attempt: number }) => {},
    /** A task was accepted: run it, then send TASK_DONE / TASK_FAILED. */
    startTask: (_, _params: { agentId: string; task: LifecycleTask }) => {},
    /** The current task must stop (suspend, quarantine, crash, terminate, demotion). */
    abortTask: (_, _params: { agentId: string; task: LifecycleTask | null; reason: string }) => {},
    /** A violation was recorded: publish it (ledger, audit subject). */
    reportPolicyViolation: (_, _params: PolicyViolation) => {},
    /** A command was refused (insufficient tier, bound reached, credentials invalid): tell the sender. */
    rejectCommand: (_, _params: RejectedCommand) => {},
    /** The agent's tier changed. */
    tierChanged: (_, _params: { agentId: string; from: Tier; to: Tier; byTier: Tier }) => {},
    /** Entry of terminated: release credentials, subscriptions, timers. */
    releaseResources: (_, _params: { agentId: string }) => {},

    // ---- context updates: internal, not meant to be provided ----
    clearTask: assign({ currentTask: null, drainReason: null }),
    /** The drained task ended: suspended with the drain's reason (before clearTask forgets it). */
    suspendDrained: assign(({ context }) => ({ suspendReason: context.drainReason ?? 'drained' })),
    recordCrash: assign(({ event }) => ({
      lastError: toLifecycleError(event.type === 'CRASH' ? event.error : undefined, 'crashed'),
    })),
    recordSuspend: assign(({ context, event }) => {
      const reason: SuspendReason = event.type === 'SUSPEND' ? event.reason : 'suspended';
      return {
        suspendReason: reason,
        credentialsValid: reason === 'credentials-revoked' ? false : context.credentialsValid,
      };
    }),
    recordQuarantine: assign(({ context, event }) => {
      const reason = event.type === 'QUARANTINE' ? event.reason : 'policy violation';
      const at = event.type === 'QUARANTINE' ? event.at : undefined;
      return {
        quarantineReason: reason,
        violations: appendViolation(context, policyViolation(context, reason, at)),
      };
    }),
    stepTier: assign(({ context }, params: { change: 'PROMOTE' | 'DEMOTE' }) => ({
      tier: nextTier(context.tier, params.change) ?? context.tier,
    })),
  },
  guards: {
    tierChangeAllowed: (_, params: { byTier: Tier; tier: Tier; change: 'PROMOTE' | 'DEMOTE' }) =>
      canPerform(params.byTier, params.change === 'PROMOTE' ? 'promote' : 'demote') &&
      nextTier(params.tier, params.change) !== undefined,
    releaseAllowed: (_, params: { byTier: Tier }) => canPerform(params.byTier, 'release'),
    taskAllowed: ({ context }, params: { task: LifecycleTask }) => tierAllowsTask(context.tier, params.task),
    retriesLeft: ({ context }) => context.restarts < context.maxRestarts,
    credentialsValid: ({ context }) => context.credentialsValid,
    draining: ({ context }) => typeof context.drainReason === 'string',
    demotionInvalidatesTask: ({ context }, params: { byTier: Tier }) => {
      if (!canPerform(params.byTier, 'demote') || context.currentTask === null) return false;
      const lower = nextTier(context.tier, 'DEMOTE');
      return lower !== undefined && !tierAllowsTask(lower, context.currentTask);
    },
  },
});

function abortCurrent(reason: string) {
  return {
    type: 'abortTask' as const,
    params: ({ context }: { context: LifecycleContext }) => ({
      agentId: context.agentId,
      task: context.currentTask,
      reason,
    }),
  };
}

/** The violation just appended by recordQuarantine. */
const reportLastViolation = {
  type: 'reportPolicyViolation' as const,
  params: ({ context }: { context: LifecycleContext }) =>
    context.violations[context.violations.length - 1] ??
    policyViolation(context, 'policy violation', undefined),
};

type TierChange = 'PROMOTE' | 'DEMOTE';
type TierChangeArgs = { context: LifecycleContext; event: { byTier: Tier } };

/** Announce the change (`tierChanged`), then make it (`stepTier`). */
function changeTier(change: TierChange) {
  return [
    {
      type: 'tierChanged' as const,
      params: ({ context, event }: TierChangeArgs) => ({
        agentId: context.agentId,
        from: context.tier,
        to: nextTier(context.tier, change) ?? (change === 'PROMOTE' ? HIGHEST_TIER : LOWEST_TIER),
        byTier: event.byTier,
      }),
    },
    { type: 'stepTier' as const, params: { change } },
  ];
}

/** PROMOTE / DEMOTE from any state: made when the sender may and the tier is not at its bound, else rejected. */
function tierChangeTransitions(change: TierChange) {
  return [
    {
      guard: {
        type: 'tierChangeAllowed' as const,
        params: ({ context, event }: TierChangeArgs) => ({
          byTier: event.byTier,
          tier: context.tier,
          change,
        }),
      },
      actions: changeTier(change),
    },
    {
      actions: {
        type: 'rejectCommand' as const,
        params: ({ context, event }: TierChangeArgs) => rejection(context, change, event.byTier),
      },
    },
  ];
}

const toTerminated = { target: '#lifecycle.terminated' };
const toQuarantined = {
  target: '#lifecycle.quarantined',
  actions: ['recordQuarantine' as const, reportLastViolation],
};
const toFailedOnCrash = { target: '#lifecycle.failed', actions: 'recordCrash' as const };

export const lifecycleMachine = lifecycleSetup.createMachine({
  id: 'lifecycle',
  initial: 'created',
  context: ({ input }) => ({
    agentId: input.agentId,
    tier: input.tier ?? DEFAULT_AGENT_TIER,
    team: input.team ?? 'default',
    role: input.role ?? 'agent',
    currentTask: null,
    restarts: 0,
    maxRestarts: input.maxRestarts ?? DEFAULT_MAX_BOOTSTRAP_RETRIES,
    lastError: null,
    violations: [],
    violationLimit: input.violationLimit ?? DEFAULT_VIOLATION_HISTORY_LIMIT,
    credentialsValid: false,
    suspendReason: null,
    drainReason: null,
    quarantineReason: null,
  }),
  on: {
    PROMOTE: tierChangeTransitions('PROMOTE'),
    DEMOTE: tierChangeTransitions('DEMOTE'),
    CREDENTIALS_RENEWED: { actions: assign({ credentialsValid: true }) },
  },
  states: {
    created: {
      on: {
        BOOTSTRAP: { target: 'bootstrapping' },
        QUARANTINE: toQuarantined,
        TERMINATE: toTerminated,
      },
    },
    bootstrapping: {
      entry: {
        type: 'runPreflight',
        params: ({ context }) => ({
          agentId: context.agentId,
          tier: context.tier,
          attempt: context.restarts,
        }),
      },
      on: {
        PREFLIGHT_OK: {
          target: 'idle',
          actions: assign({ credentialsValid: true, lastError: null, suspendReason: null }),
        },
        PREFLIGHT_FAILED: {
          target: 'failed',
          actions: assign({ lastError: ({ event }) => toLifecycleError(event.error, 'preflight failed') }),
        },
        CRASH: toFailedOnCrash,
        QUARANTINE: toQuarantined,
        TERMINATE: toTerminated,
      },
    },
    idle: {
      on: {
        ASSIGN_TASK: [
          {
            guard: { type: 'taskAllowed', params: ({ event }) => ({ task: event.task }) },
            target: 'working',
            actions: [
              assign({ currentTask: ({ event }) => ({ ...event.task }) }),
              {
                type: 'startTask',
                params: ({ context, event }) => ({ agentId: context.agentId, task: { ...event.task } }),
              },
            ],
          },
          {
            actions: [
              assign({
                violations: ({ context, event }) =>
                  appendViolation(context, taskViolation(context, event.task, event.at)),
              }),
              {
                type: 'reportPolicyViolation',
                params: ({ context, event }) => taskViolation(context, event.task, event.at),
              },
            ],
          },
        ],
        SUSPEND: { target: 'suspended', actions: 'recordSuspend' },
        DRAIN: { target: 'suspended', actions: assign({ suspendReason: ({ event }) => event.reason }) },
        QUARANTINE: toQuarantined,
        CRASH: toFailedOnCrash,
        TERMINATE: toTerminated,
      },
    },
    working: {
      on: {
        TASK_DONE: [
          { guard: 'draining', target: 'suspended', actions: ['suspendDrained', 'clearTask'] },
          { target: 'idle', actions: 'clearTask' },
        ],
        TASK_FAILED: [
          {
            guard: 'draining',
            target: 'suspended',
            actions: [
              assign({ lastError: ({ event }) => toLifecycleError(event.error, 'task failed') }),
              'suspendDrained',
              'clearTask',
            ],
          },
          {
            target: 'idle',
            actions: [
              assign({ lastError: ({ event }) => toLifecycleError(event.error, 'task failed') }),
              'clearTask',
            ],
          },
        ],
        // The task is not touched: it runs to its end, and no new one is taken meanwhile (working).
        DRAIN: { actions: assign({ drainReason: ({ event }) => event.reason }) },
        SUSPEND: { target: 'suspended', actions: [abortCurrent('suspended'), 'clearTask', 'recordSuspend'] },
        QUARANTINE: {
          target: 'quarantined',
          actions: [abortCurrent('quarantined'), 'recordQuarantine', reportLastViolation, 'clearTask'],
        },
        CRASH: { target: 'failed', actions: [abortCurrent('crashed'), 'clearTask', 'recordCrash'] },
        DEMOTE: {
          // Falls through to the root DEMOTE when the task stays permitted.
          guard: { type: 'demotionInvalidatesTask', params: ({ event }) => ({ byTier: event.byTier }) },
          target: 'idle',
          actions: [abortCurrent('demoted'), ...changeTier('DEMOTE'), 'clearTask'],
        },
        TERMINATE: { ...toTerminated, actions: [abortCurrent('terminated'), 'clearTask'] },
      },
    },
    suspended: {
      on: {
        RESUME: [
          { guard: 'credentialsValid', target: 'idle', actions: assign({ suspendReason: null }) },
          {
            actions: {
              type: 'rejectCommand',
              params: ({ context }) => rejection(context, 'RESUME', undefined),
            },
          },
        ],
        SUSPEND: { actions: 'recordSuspend' },
        // Already taking no work: a drain is done (its reason is kept as the suspension's).
        DRAIN: { actions: assign({ suspendReason: ({ event }) => event.reason }) },
        QUARANTINE: toQuarantined,
        CRASH: toFailedOnCrash,
        TERMINATE: toTerminated,
      },
    },
    failed: {
      on: {
        BOOTSTRAP: {
          guard: 'retriesLeft',
          target: 'bootstrapping',
          actions: assign({ restarts: ({ context }) => context.restarts + 1 }),
        },
        QUARANTINE: toQuarantined,
        TERMINATE: toTerminated,
      },
    },
    quarantined: {
      on: {
        RELEASE: [
          {
            guard: { type: 'releaseAllowed', params: ({ event }) => ({ byTier: event.byTier }) },
            target: 'bootstrapping',
            actions: assign({ quarantineReason: null }),
          },
          {
            actions: {
              type: 'rejectCommand',
              params: ({ context, event }) => rejection(context, 'RELEASE', event.byTier),
            },
          },
        ],
        QUARANTINE: { actions: ['recordQuarantine', reportLastViolation] },
        // A crash records the error but never leaves quarantine.
        CRASH: { actions: 'recordCrash' },
        TERMINATE: toTerminated,
      },
    },
    terminated: {
      type: 'final',
      entry: { type: 'releaseResources', params: ({ context }) => ({ agentId: context.agentId }) },
    },
  },
});

export type LifecycleMachine = typeof lifecycleMachine;
export type LifecycleSnapshot = SnapshotFrom<LifecycleMachine>;
export type LifecycleActor = Actor<LifecycleMachine>;

/**
 * Event types that have a transition out of (or within) `state`, guards not considered.
 * Any other event sent in that state is ignored. Empty for `terminated` and unknown states.
 */
export function allowedEvents(state: LifecycleState | string): LifecycleEventType[] {
  if (!isLifecycleState(state) || state === 'terminated') return [];
  const node = lifecycleMachine.states[state];
  const own = node ? node.ownEvents : [];
  const root = lifecycleMachine.root.ownEvents;
  const all = new Set<string>([...own, ...root]);
  return [...all].sort() as LifecycleEventType[];
}

/**
 * Whether `event` would be taken by an agent in `snapshot` (guards evaluated).
 * Unlike `snapshot.can(event)` alone, false once the agent is terminated.
 */
export function canAccept(snapshot: LifecycleSnapshot, event: LifecycleEvent): boolean {
  return snapshot.status === 'active' && snapshot.can(event);
}

/**
 * Rebuilds a lifecycle actor (not started) from `actor.getPersistedSnapshot()`, given as the object
 * or its JSON text. The actor resumes in the persisted state with its context.
 *
 * @param machine pass `lifecycleMachine.provide({ actions })` to get the hooks wired.
 * @throws DecodeError when the input is not a persisted lifecycle snapshot.
 */
export function restoreLifecycle(
  persisted: unknown,
  machine: AnyStateMachine = lifecycleMachine,
): LifecycleActor {
  let snap: unknown = persisted;
  if (typeof persisted === 'string') {
    try {
      snap = JSON.parse(persisted);
    } catch (err) {
      throw new DecodeError('persisted lifecycle snapshot is not JSON', { cause: err });
    }
  }
  if (typeof snap !== 'object' || snap === null) {
    throw new DecodeError('persisted lifecycle snapshot is not an object');
  }
  const s = snap as { value?: unknown; context?: { agentId?: unknown; tier?: unknown }; status?: unknown };
  if (!isLifecycleState(s.value)) {
    throw new DecodeError('persisted lifecycle snapshot has an unknown state', {
      details: { value: String(s.value) },
    });
  }
  if (typeof s.context?.agentId !== 'string' || !isTier(s.context.tier)) {
    throw new DecodeError('persisted lifecycle snapshot has no valid context', {
      details: { value: s.value },
    });
  }
  // A snapshot's status follows from its state; restore a consistent one whatever was stored.
  const restored = { ...s, status: s.value === 'terminated' ? 'done' : 'active' };
  // `input` is required by the types but unused when a snapshot is given.
  return createActor(machine as LifecycleMachine, {
    snapshot: restored as LifecycleSnapshot,
    input: { agentId: s.context.agentId },
  });
}
