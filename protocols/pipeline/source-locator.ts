/**
 * Maps paths into the parsed data (as zod and the checks report them) back to
 * line and column in the YAML source, through the yaml Document's AST.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
} from 'yaml';
import type { Diagnostic, DiagnosticCode } from './diagnostics.ts';

export type Path = readonly PropertyKey[];

export interface Position {
  line: number;
  column: number;
}

interface Found {
  /** Deepest node reached along the path. */
  node: Node | null;
  /** The pair holding `node`, when the last step went through a map. */
  pair: Pair | undefined;
  /** How many path segments were matched. */
  matched: number;
}

export class SourceLocator {
  constructor(
    readonly file: string,
    private readonly source: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Line and column of a byte offset in the source. */
  atOffset(offset: number): Position {
    const { line, col } = this.lines.linePos(Math.max(0, Math.min(offset, this.source.length)));
    return { line, column: col };
  }

  /**
   * Position of the value at `path`; with `key`, of the key that names its last segment.
   * A path that leads nowhere (a missing field) points at the deepest node that exists.
   */
  at(path: Path, opts: { key?: boolean } = {}): Position {
    const found = this.find(path);
    if (
      found.matched === path.length &&
      opts.key &&
      found.pair &&
      isScalar(found.pair.key) &&
      found.pair.key.range
    ) {
      return this.atOffset(found.pair.key.range[0]);
    }
    const node = found.node;
    if (node?.range) return this.atOffset(node.range[0]);
    // A key with no value (`needs:`) points at the key.
    if (found.pair && isScalar(found.pair.key) && found.pair.key.range)
      return this.atOffset(found.pair.key.range[0]);
    return { line: 1, column: 1 };
  }

  /** Position of `needle` inside the scalar at `path` (falls back to the scalar's start). */
  atText(path: Path, needle: string): Position {
    const found = this.find(path);
    const range = found.matched === path.length ? found.node?.range : undefined;
    if (!range) return this.at(path);
    const idx = this.source.slice(range[0], range[1]).indexOf(needle);
    return this.atOffset(range[0] + Math.max(0, idx));
  }

  diagnostic(
    code: DiagnosticCode,
    path: Path,
    message: string,
    opts: { key?: boolean; text?: string } = {},
  ): Diagnostic {
    const pos = opts.text === undefined ? this.at(path, opts) : this.atText(path, opts.text);
    return { file: this.file, line: pos.line, column: pos.column, code, message };
  }

  private find(path: Path): Found {
    let node: Node | null = this.resolve(this.doc.contents as Node | null);
    let pair: Pair | undefined;
    let matched = 0;
    for (const seg of path) {
      if (isMap(node)) {
        const next = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!next) break;
        pair = next;
        node = this.resolve(next.value as Node | null);
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        pair = undefined;
        node = this.resolve(node.items[seg] as Node | null);
      } else {
        break;
      }
      matched++;
      if (node === null) break;
    }
    return { node, pair, matched };
  }

  private resolve(node: Node | null): Node | null {
    if (node && isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return node;
  }
}

/** `stages[2].task.command` style rendering of a path, for messages. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? 'top level' : out;
}
