import { ACTOR_KIND } from '../protocols/index.ts';
import { defineActorKind } from './runtime/index.ts';
import { NO_START_ARGS } from './runtime/index.ts';

/**
 * A demo actor that checks its own mailbox discipline: counts demo.count.v1 messages, records
 * whether their sequence numbers arrived in order, and the most handlers ever running at once.
 */
export const counterKind = defineActorKind({
  kind: ACTOR_KIND.counter,
  args: NO_START_ARGS,
  description: 'counts demo.count.v1 in order; demo.get-count.v1 reports',
  start() {
    let count = 0;
    let inOrder = true;
    let running = 0;
    let maxConcurrent = 0;
    let lastSeq = -1;
    return {
      accepts: ['demo.count.v1', 'demo.get-count.v1'],
      status: () => ({ count }),
      async handle(env) {
        running++;
        maxConcurrent = Math.max(maxConcurrent, running);
        try {
          if (env.type === 'demo.count.v1') {
            if (env.body.seq !== lastSeq + 1) inOrder = false;
            lastSeq = env.body.seq;
            count++;
            // Yield so that a runtime running handlers concurrently would be caught.
            if (count % 100 === 0) await new Promise((r) => setImmediate(r));
            return undefined;
          }
          return { type: 'demo.counted.v1', body: { count, inOrder, maxConcurrent } };
        } finally {
          running--;
        }
      },
    };
  },
});
