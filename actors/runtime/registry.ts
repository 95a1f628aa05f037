import { UnknownActorKindError } from '../../protocols/vocabulary/errors.ts';
import type { ActorKind } from './actor-kind.ts';

/** The kinds an actor host (or `agov actor <kind>`) can start, by name. */
export class ActorRegistry {
  private readonly kinds = new Map<string, ActorKind>();

  register(...kinds: ActorKind[]): this {
    for (const k of kinds) this.kinds.set(k.kind, k);
    return this;
  }

  get(kind: string): ActorKind {
    const k = this.kinds.get(kind);
    if (!k) {
      throw new UnknownActorKindError(
        `unknown actor kind ${JSON.stringify(kind)}; known: ${[...this.kinds.keys()].sort().join(', ')}`,
        {
          details: { kind },
        },
      );
    }
    return k;
  }

  list(): ActorKind[] {
    return [...this.kinds.values()].sort((a, b) => a.kind.localeCompare(b.kind));
  }
}
