/** Turns zod issues into located `schema` diagnostics. */
import type * as z from 'zod';
import type { Diagnostic } from './diagnostics.ts';
import { formatPath, type Path, type SourceLocator } from './source-locator.ts';

type Issue = z.core.$ZodIssue;

/** Value at `path` in plain data, or undefined. */
export function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function leafCount(issues: readonly Issue[]): number {
  let n = 0;
  for (const i of issues) {
    if (i.code === 'invalid_union' && i.errors.length > 0) n += Math.min(...i.errors.map(leafCount));
    else if (i.code === 'unrecognized_keys') n += i.keys.length;
    else n += 1;
  }
  return n;
}

/** Replaces unions that failed on every branch by the issues of the branch that came closest. */
function flatten(issues: readonly Issue[], base: Path): Array<{ issue: Issue; path: Path }> {
  const out: Array<{ issue: Issue; path: Path }> = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.message === 'Invalid input') {
      let best = issue.errors[0] ?? [];
      for (const branch of issue.errors) if (leafCount(branch) < leafCount(best)) best = branch;
      out.push(...flatten(best, path));
    } else {
      out.push({ issue, path });
    }
  }
  return out;
}

const typeName = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v;

/** One located diagnostic per problem zod found in `data` (the YAML's plain value) under `base`. */
export function schemaDiagnostics(
  issues: readonly Issue[],
  data: unknown,
  loc: SourceLocator,
  base: Path = [],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const { issue, path } of flatten(issues, base)) {
    const where = formatPath(path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          out.push(
            loc.diagnostic('schema', [...path, key], `${where}: unknown field "${key}"`, { key: true }),
          );
        }
        break;
      case 'invalid_key':
        out.push(
          loc.diagnostic(
            'schema',
            path,
            `${where}: invalid key: ${issue.issues[0]?.message ?? issue.message}`,
            { key: true },
          ),
        );
        break;
      case 'invalid_union':
        if (issue.discriminator !== undefined) {
          const got = valueAt(data, path);
          const options = ('options' in issue ? (issue.options ?? []) : []).map(String).join(', ');
          const what =
            got === undefined
              ? `missing "${issue.discriminator}"`
              : `unknown ${issue.discriminator} ${JSON.stringify(got)}`;
          const at = got === undefined ? path.slice(0, -1) : path;
          out.push(loc.diagnostic('schema', at, `${formatPath(at)}: ${what}; expected one of: ${options}`));
        } else if (valueAt(data, path) === undefined) {
          out.push(missing(path, loc));
        } else {
          out.push(
            loc.diagnostic(
              'schema',
              path,
              `${where}: ${issue.message}, got ${typeName(valueAt(data, path))}`,
            ),
          );
        }
        break;
      case 'invalid_type': {
        const got = valueAt(data, path);
        if (got === undefined) {
          out.push(missing(path, loc));
        } else {
          out.push(
            loc.diagnostic('schema', path, `${where}: expected ${issue.expected}, got ${typeName(got)}`),
          );
        }
        break;
      }
      default:
        out.push(
          loc.diagnostic('schema', path, `${where}: ${issue.message.replace(/^Invalid input: /, '')}`),
        );
    }
  }
  return out;
}

function missing(path: Path, loc: SourceLocator): Diagnostic {
  const parent = path.slice(0, -1);
  return loc.diagnostic(
    'schema',
    parent,
    `${formatPath(parent)}: missing required field "${String(path.at(-1))}"`,
  );
}
