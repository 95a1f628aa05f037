/**
 * The house's hard size limits (docs/conventions.md), measured with the TypeScript compiler API over
 * every checked-in source file outside test/: no file past 500 lines, no function past 120.
 * A function's lines run from its first token to its last, nested functions included — the measure a
 * reader meets. `node --import tsx test/unit/code-shape.ts` prints the report; code-shape.test.ts
 * fails naming every offender.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_FILE_LINES = 500;
export const MAX_FUNCTION_LINES = 120;

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const SOURCE = /\.(ts|mts|cts|mjs|cjs|js)$/;

/** Checked-in source files outside test/ (git knows what is ours; node_modules, dist, reports are not). */
export function sourceFiles(root = REPO_ROOT): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter((f) => SOURCE.test(f) && !f.startsWith('test/') && !f.endsWith('.d.ts') && !f.endsWith('.d.mts'))
    .sort();
}

export interface Oversize {
  file: string;
  /** The function's name as a reader finds it (`Class.method`, `outer/inner`), or the file's for a file. */
  name: string;
  line: number;
  lines: number;
  limit: number;
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = (n: ts.Node): string | undefined => {
    const name = (n as { name?: ts.Node }).name;
    return name ? name.getText(sf) : undefined;
  };
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const own = named(node);
  if (own) return own;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return named(parent) ?? '(anonymous)';
  if (ts.isCallExpression(parent)) return `(argument of ${parent.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

function isFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node)
  );
}

/** Functions and the file itself past their limits, in one source text. */
export function oversizeIn(file: string, text: string): Oversize[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Oversize[] = [];
  const fileLines = sf.getLineAndCharacterOfPosition(sf.getEnd()).line + (text.endsWith('\n') ? 0 : 1);
  if (fileLines > MAX_FILE_LINES)
    found.push({ file, name: file, line: 1, lines: fileLines, limit: MAX_FILE_LINES });
  const visit = (node: ts.Node, path: string[]) => {
    let inner = path;
    if (isFunction(node) && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const owner = node.parent && ts.isClassLike(node.parent) ? node.parent.name?.getText(sf) : undefined;
      const name = (owner ? `${owner}.` : '') + functionName(node, sf);
      inner = [...path, name];
      const lines = end - start + 1;
      if (lines > MAX_FUNCTION_LINES)
        found.push({ file, name: inner.join('/'), line: start + 1, lines, limit: MAX_FUNCTION_LINES });
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(sf, []);
  return found;
}

/** Every file and function of the repository past its limit. */
export function oversize(root = REPO_ROOT): Oversize[] {
  return sourceFiles(root).flatMap((f) => oversizeIn(f, readFileSync(join(root, f), 'utf8')));
}

export function describeOversize(o: Oversize): string {
  return o.name === o.file
    ? `${o.file}: ${o.lines} lines (limit ${o.limit})`
    : `${o.file}:${o.line} ${o.name}: ${o.lines} lines (limit ${o.limit})`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const found = oversize();
  for (const o of found) console.log(describeOversize(o));
  if (found.length === 0) console.log('no file over 500 lines, no function over 120');
  process.exitCode = found.length === 0 ? 0 : 1;
}
