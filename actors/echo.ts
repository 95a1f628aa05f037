import { TierForbiddenError } from '../protocols/index.ts';
import { ACTOR_KIND } from '../protocols/index.ts';
import { defineActorKind, refuse } from './runtime/index.ts';
import { NO_START_ARGS } from './runtime/index.ts';

/**
 * A demo actor: echoes text back, can be asked to be slow or to crash. Used by the quick start,
 * the tests and the benches as the simplest real actor.
 */
export const echoKind = defineActorKind({
  kind: ACTOR_KIND.echo,
  args: NO_START_ARGS,
  description:
    'echoes demo.echo.v1 (the text "refuse me" is refused with a typed error); demo.slow.v1 sleeps; demo.crash.v1 crashes the actor',
  start(ctx) {
    let echoed = 0;
    return {
      accepts: ['demo.echo.v1', 'demo.slow.v1', 'demo.crash.v1'],
      status: () => ({ echoed }),
      async handle(env) {
        switch (env.type) {
          case 'demo.echo.v1':
            if (env.body.text === 'refuse me')
              return refuse(new TierForbiddenError('echo refuses on request'));
            echoed++;
            return {
              type: 'demo.echoed.v1',
              body: { text: env.body.text, seq: env.body.seq, by: ctx.address },
            };
          case 'demo.slow.v1':
            await new Promise((r) => setTimeout(r, env.body.ms));
            return { type: 'ack.v1', body: { ok: true } };
          case 'demo.crash.v1':
            throw new Error(env.body.message ?? 'crash requested');
        }
      },
    };
  },
});
