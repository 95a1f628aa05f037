import { counterKind } from './counter.ts';
import { echoKind } from './echo.ts';
import { ActorRegistry } from './runtime/registry.ts';

/** Every actor kind this codebase ships, for hosts and `agov actor <kind>`. */
export function defaultRegistry(): ActorRegistry {
  return new ActorRegistry().register(echoKind, counterKind);
}
