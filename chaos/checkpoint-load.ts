/**
 * Load for the checkpoint actor while it is being killed: an operator (T2, on
 * `gov.ctx.checkpoint.T2.<principal>`) takes a checkpoint and restores it, again and again. Each restore
 * stores a record that implies a `restored` audit event (its transactional outbox), so the invariant
 * "every event implied by persisted state is in the ledger exactly once" has checkpoint events to check,
 * some of them cut off by a SIGKILL between the record's write and the publish.
 *
 * The checkpoint restored is the one just taken, so a restore re-applies (almost) nothing: the load
 * exercises the record and its event, not the fleet (a restore of an older checkpoint could hold again
 * an agent its quarantine has released meanwhile).
 */
import type { Bus } from '../bus/index.ts';
import { ACTOR_KIND, contextSubject } from '../protocols/index.ts';

/** How long one take or restore may take on a loaded machine (the restore asks the directory and the orchestrator). */
export const DEFAULT_CHECKPOINT_LOAD_ASK_MS = 20_000;
/** Pause after a failed ask: the checkpoint actor may be the process just killed. */
export const DEFAULT_CHECKPOINT_LOAD_RETRY_MS = 250;

/**
 * Takes and restores checkpoints until `done(restores)` (given how many restores were answered so
 * far); resolves with that number.
 */
export async function checkpointRestoreLoad(
  client: Bus,
  done: (restores: number) => boolean,
  log: (line: string) => void,
): Promise<number> {
  const subject = contextSubject(ACTOR_KIND.checkpoint, 'T2', client.principal());
  const ask = { timeoutMs: DEFAULT_CHECKPOINT_LOAD_ASK_MS };
  let restores = 0;
  let failures = 0;
  let lastError = '';
  while (!done(restores)) {
    try {
      const cp = await client.ask(
        subject,
        { type: 'checkpoint.take.v1', body: { notes: 'chaos load' } },
        ask,
      );
      if (cp.type !== 'checkpoint.v1') throw new Error(`unexpected ${cp.type}`);
      const r = await client.ask(subject, { type: 'checkpoint.restore.v1', body: { id: cp.body.id } }, ask);
      if (r.type === 'checkpoint.restored.v1') restores++;
    } catch (err) {
      failures++;
      lastError = String(err);
      await new Promise((res) => setTimeout(res, DEFAULT_CHECKPOINT_LOAD_RETRY_MS));
    }
  }
  log(
    `checkpoint load: ${restores} restores answered, ${failures} asks failed (the actor killed meanwhile${lastError ? `; last: ${lastError}` : ''})`,
  );
  return restores;
}
