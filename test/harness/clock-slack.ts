/**
 * How much earlier than its delay a timer may fire when measured with Date.now(), for tests that
 * assert a lower bound on a pause. Two causes: Date.now() truncates to the millisecond on both reads,
 * and Node arms a timer from libuv's loop time, which is cached when the loop iteration starts — a
 * timer set late in a busy iteration (a handler that ran for a while first) fires that much early
 * against the wall clock. On a loaded 2-core machine an iteration can take tens of milliseconds; the
 * issue this pins saw 197 ms measured for a 200 ms pause. Lower bounds use `delay - CLOCK_SLACK_MS`,
 * which still tells a pause from none and a doubled pause from a single one.
 */
export const CLOCK_SLACK_MS = 25;
