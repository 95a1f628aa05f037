import { AUDIT_STREAM } from '../../bus/streams.ts';
import type { Bus } from '../../bus/bus.ts';
import type { AnyEnvelope } from '../../protocols/envelope.ts';

/** Every envelope in the AUDIT stream right now, by id, with how many times it is there. */
export async function auditStreamCounts(
  bus: Bus,
): Promise<Map<string, { count: number; env: AnyEnvelope; subject: string }>> {
  const jsm = await bus.jetstreamManager();
  const info = await jsm.streams.info(AUDIT_STREAM);
  const out = new Map<string, { count: number; env: AnyEnvelope; subject: string }>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    if (!m) continue;
    const d = bus.decode(m.data);
    if (!d.ok) continue;
    const prior = out.get(d.env.id);
    out.set(d.env.id, { count: (prior?.count ?? 0) + 1, env: d.env, subject: m.subject });
  }
  return out;
}
