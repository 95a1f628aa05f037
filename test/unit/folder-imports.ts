/**
 * The import graph between folders, read with the TypeScript compiler API from every source file
 * outside test/ (static imports, re-exports, `import()` of a literal path; `import type` counts too:
 * a type shared both ways is a piece that belongs lower down). A folder is a directory, so a parent
 * and its sub-folder are two nodes: `protocols/` importing `protocols/messages/` while a message file
 * imports `protocols/index.ts` is a loop like any other. `node --import tsx test/unit/folder-imports.ts`
 * prints the loops; folder-imports.test.ts fails naming them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { REPO_ROOT, sourceFiles } from './code-shape.ts';

export interface ImportEdge {
  from: string;
  to: string;
}

/** Relative module specifiers a source text imports or re-exports. */
export function importedSpecifiers(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      out.push(node.moduleSpecifier.text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    )
      out.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out.filter((s) => s.startsWith('.'));
}

/** File → file edges of the repository's own relative imports (targets that exist). */
export function fileImports(root = REPO_ROOT): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const spec of importedSpecifiers(file, text)) {
      const target = normalize(join(dirname(file), spec));
      if (!target.startsWith('..') && !target.startsWith('test/') && existsSync(join(root, target)))
        edges.push({ from: file, to: target });
    }
  }
  return edges;
}

/**
 * Loops in the folder graph: each strongly connected set of two or more folders, with the file
 * imports that make it (so the message says which line to move).
 */
export function folderLoops(edges: ImportEdge[]): { folders: string[]; imports: ImportEdge[] }[] {
  const graph = new Map<string, Set<string>>();
  const folderEdges: ImportEdge[] = [];
  for (const e of edges) {
    const a = dirname(e.from);
    const b = dirname(e.to);
    if (a === b) continue;
    folderEdges.push(e);
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    graph.get(a)?.add(b);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sets: string[][] = [];
  const connect = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const set: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        set.push(w);
      } while (w !== v);
      if (set.length > 1) sets.push(set.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) connect(v);
  return sets.map((folders) => ({
    folders,
    imports: folderEdges.filter((e) => folders.includes(dirname(e.from)) && folders.includes(dirname(e.to))),
  }));
}

export function describeLoop(loop: { folders: string[]; imports: ImportEdge[] }): string {
  return `${loop.folders.join(' ↔ ')}: ${loop.imports.map((e) => `${e.from} → ${e.to}`).join(', ')}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const loops = folderLoops(fileImports());
  for (const l of loops) console.log(describeLoop(l));
  if (loops.length === 0) console.log('no loop between folders');
  process.exitCode = loops.length === 0 ? 0 : 1;
}
