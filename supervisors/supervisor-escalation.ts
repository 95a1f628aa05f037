import { GovError } from '../protocols/index.ts';

/** Raised by a supervisor that gave up; its parent sees it as the child's crash reason. */
export class SupervisorEscalation extends GovError {
  constructor(supervisorId: string, cause: string, childId: string) {
    super('GOV_ERR_ACTOR_CRASHED', `supervisor ${supervisorId} escalated: ${cause} (child ${childId})`, {
      retryable: true,
      details: { supervisorId, escalation: cause, childId },
    });
  }
}
