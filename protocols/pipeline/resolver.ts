/**
 * Semantic checks and template expansion. Works part by part (each parameter, template
 * and stage entry is validated on its own) so that one broken stage does not hide the
 * problems of the others: every problem becomes a located diagnostic.
 */
import type { Diagnostic } from './diagnostics.ts';
import { findCycles } from './dag.ts';
import { findRefs, forEachString, isNumericField, substituteDeep, wholeRef } from './interpolation.ts';
import type { ResolvedStage } from './model.ts';
import { DEFAULT_MAX_TEMPLATE_DEPTH } from './options.ts';
import {
  type ParameterSpec,
  ParameterSpecSchema,
  PARAM_NAME_PATTERN,
  type Scalar,
  StageEntrySchema,
  type StageDef,
  type UsesEntry,
} from './schema.ts';
import type { Path, SourceLocator } from './source-locator.ts';
import { canRunTaskKind, TASK_KIND_MIN_TIER } from '../vocabulary/tiers.ts';

interface ListItem {
  path: Path;
  /** Undefined when the entry does not pass the schema (its problems are reported by the schema pass). */
  entry: StageDef | UsesEntry | undefined;
  raw: unknown;
}

interface ParamScope {
  label: string;
  /** null: declared, but the declaration itself is broken. */
  params: Map<string, ParameterSpec | null>;
}

interface TemplateInfo {
  name: string;
  path: Path;
  scope: ParamScope;
  items: ListItem[];
}

interface NeedRef {
  name: string;
  path: Path;
  ids: string[];
}

interface Draft {
  stage: Omit<ResolvedStage, 'needs'>;
  /** Local id as written in its list (for messages that do not repeat per instance). */
  localId: string;
  path: Path;
  needs: NeedRef[];
}

interface ListCtx {
  prefix: string;
  values: Map<string, Scalar> | undefined;
  inherited: NeedRef[];
  stack: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isUses = (e: StageDef | UsesEntry): e is UsesEntry => 'uses' in e;
const namespaceOf = (u: UsesEntry): string => u.as ?? u.idPrefix ?? u.uses;
const typeOf = (v: Scalar): ParameterSpec['type'] => typeof v as ParameterSpec['type'];

export interface ResolveResult {
  stages: ResolvedStage[];
  parameters: Map<string, ParameterSpec | null>;
  diagnostics: Diagnostic[];
}

export class Resolver {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly templates = new Map<string, TemplateInfo>();
  private readonly usedTemplates = new Set<string>();

  constructor(
    private readonly raw: unknown,
    private readonly loc: SourceLocator,
  ) {}

  run(): ResolveResult {
    const root = isRecord(this.raw) ? this.raw : {};
    const pipelineScope = this.readParams(root.parameters, ['parameters'], 'the pipeline');

    if (isRecord(root.templates)) {
      for (const [name, rawT] of Object.entries(root.templates)) {
        if (!isRecord(rawT)) continue;
        const path: Path = ['templates', name];
        const scope = this.readParams(rawT.parameters, [...path, 'parameters'], `template "${name}"`);
        this.templates.set(name, {
          name,
          path,
          scope,
          items: this.readList(rawT.stages, [...path, 'stages']),
        });
      }
    }

    const top = this.readList(root.stages, ['stages']);
    this.checkDefinitions(top, pipelineScope);
    for (const t of this.templates.values()) this.checkDefinitions(t.items, t.scope);

    const drafts = this.expand(top, { prefix: '', values: undefined, inherited: [], stack: [] });
    const stages = toStages(drafts);
    this.checkTiers(drafts);
    this.checkCycles(drafts, stages);
    // Templates no stage uses are still checked, as if used once on their own.
    for (const t of this.templates.values()) {
      if (this.usedTemplates.has(t.name)) continue;
      const alone = this.expand(t.items, {
        prefix: `${t.name}.`,
        values: undefined,
        inherited: [],
        stack: [t.name],
      });
      this.checkTiers(alone);
      this.checkCycles(alone, toStages(alone));
    }
    return { stages, parameters: pipelineScope.params, diagnostics: this.dedupe() };
  }

  // ---- reading ---------------------------------------------------------------------------

  private readParams(raw: unknown, path: Path, label: string): ParamScope {
    const params = new Map<string, ParameterSpec | null>();
    if (isRecord(raw)) {
      for (const [name, rawSpec] of Object.entries(raw)) {
        if (!PARAM_NAME_PATTERN.test(name)) continue;
        const parsed = ParameterSpecSchema.safeParse(rawSpec);
        params.set(name, parsed.success ? parsed.data : null);
        if (
          parsed.success &&
          parsed.data.default !== undefined &&
          typeof parsed.data.default !== parsed.data.type
        ) {
          this.report(
            'parameter-type',
            [...path, name, 'default'],
            `parameter "${name}" is a ${parsed.data.type}, but its default is a ${typeof parsed.data.default}`,
          );
        }
      }
    }
    return { label, params };
  }

  private readList(raw: unknown, path: Path): ListItem[] {
    if (!Array.isArray(raw)) return [];
    return raw.map((rawEntry, i) => {
      const parsed = StageEntrySchema.safeParse(rawEntry);
      return { path: [...path, i], entry: parsed.success ? parsed.data : undefined, raw: rawEntry };
    });
  }

  // ---- definition checks (once per written list) -------------------------------------------

  private checkDefinitions(items: ListItem[], scope: ParamScope): void {
    const seen = new Map<string, Path>();
    for (const item of items) {
      const { entry } = item;
      if (!entry) continue;
      const name = isUses(entry) ? namespaceOf(entry) : entry.id;
      const namePath = isUses(entry)
        ? [...item.path, entry.as !== undefined ? 'as' : entry.idPrefix !== undefined ? 'idPrefix' : 'uses']
        : [...item.path, 'id'];
      const first = seen.get(name);
      if (first) {
        const line = this.loc.at(first).line;
        this.report(
          'duplicate-stage',
          namePath,
          `duplicate stage id "${name}" (first declared on line ${line})`,
        );
      } else {
        seen.set(name, namePath);
      }
      if (isUses(entry)) {
        this.checkRefs(entry.with, [...item.path, 'with'], scope, ['with']);
        this.checkWith(entry, item.path, scope);
      } else {
        const { id: _id, needs: _needs, ...rest } = entry;
        this.checkRefs(rest, item.path, scope, []);
      }
    }
  }

  /** Every `${{ }}` in `value` names a parameter of `scope`; number fields hold one reference to a number. */
  private checkRefs(value: unknown, basePath: Path, scope: ParamScope, rel: Path): void {
    forEachString(value, (s, p) => {
      const relPath = [...rel, ...p];
      const path = [...basePath, ...p];
      const refs = findRefs(s);
      for (const ref of refs) {
        if (ref.name === undefined) {
          this.report(
            'bad-interpolation',
            path,
            `"${ref.text}" is not a parameter reference; write \${{ params.NAME }}`,
            ref.text,
          );
        } else if (!scope.params.has(ref.name)) {
          const declared = [...scope.params.keys()];
          const hint = declared.length ? `declared: ${declared.join(', ')}` : 'it declares no parameters';
          this.report(
            'unknown-parameter',
            path,
            `unknown parameter "${ref.name}" in ${scope.label} (${hint})`,
            ref.text,
          );
        }
      }
      if (refs.length > 0 && isNumericField(relPath)) {
        const name = wholeRef(s);
        const spec = name === undefined ? undefined : scope.params.get(name);
        if (name === undefined) {
          this.report(
            'bad-interpolation',
            path,
            `a number field takes a single \${{ params.NAME }} reference, not "${s}"`,
          );
        } else if (spec && spec.type !== 'number') {
          this.report(
            'parameter-type',
            path,
            `parameter "${name}" is a ${spec.type}, but this field takes a number`,
            s,
          );
        }
      }
    });
  }

  private checkWith(entry: UsesEntry, path: Path, scope: ParamScope): void {
    const t = this.templates.get(entry.uses);
    if (!t) return;
    for (const [key, value] of Object.entries(entry.with)) {
      if (!t.scope.params.has(key)) {
        const declared = [...t.scope.params.keys()];
        const hint = declared.length ? `declared: ${declared.join(', ')}` : 'it declares no parameters';
        this.report(
          'unknown-parameter',
          [...path, 'with', key],
          `template "${t.name}" has no parameter "${key}" (${hint})`,
          undefined,
          true,
        );
        continue;
      }
      const spec = t.scope.params.get(key);
      if (!spec) continue;
      const valuePath = [...path, 'with', key];
      if (typeof value === 'string' && findRefs(value).length > 0) {
        const ref = wholeRef(value);
        const outer = ref === undefined ? undefined : scope.params.get(ref);
        if (ref === undefined && spec.type !== 'string') {
          this.report(
            'parameter-type',
            valuePath,
            `parameter "${key}" of template "${t.name}" is a ${spec.type}; pass a value or a single reference`,
          );
        } else if (outer && outer.type !== spec.type) {
          this.report(
            'parameter-type',
            valuePath,
            `parameter "${key}" of template "${t.name}" is a ${spec.type}, but "${ref}" is a ${outer.type}`,
          );
        }
      } else if (typeOf(value) !== spec.type) {
        this.report(
          'parameter-type',
          valuePath,
          `parameter "${key}" of template "${t.name}" is a ${spec.type}, got ${typeOf(value)} ${JSON.stringify(value)}`,
        );
      }
    }
    for (const [key, spec] of t.scope.params) {
      if (spec && spec.default === undefined && !(key in entry.with)) {
        this.report(
          'missing-parameter',
          [...path, 'uses'],
          `template "${t.name}" needs parameter "${key}" (a ${spec.type}); add it under \`with:\``,
        );
      }
    }
  }

  // ---- expansion ------------------------------------------------------------------------

  private expand(items: ListItem[], ctx: ListCtx): Draft[] {
    const lookup = (name: string) => ctx.values?.get(name);
    const drafts: Draft[] = [];
    const table = new Map<string, string[]>();
    const opaque = new Set<string>();
    let unnamed = false;
    const localRefs: NeedRef[] = [];
    const refsFor = (needs: string[], path: Path): NeedRef[] => {
      const refs = needs.map((name, i) => ({ name, path: [...path, 'needs', i], ids: [] as string[] }));
      localRefs.push(...refs);
      return refs;
    };

    for (const item of items) {
      if (!item.entry) {
        const r = isRecord(item.raw) ? item.raw : {};
        const name = [r.as, r.idPrefix, r.uses, r.id].find((v) => typeof v === 'string');
        if (typeof name === 'string') opaque.add(name);
        else unnamed = true;
        continue;
      }
      const entry = ctx.values ? substituteDeep(item.entry, lookup) : item.entry;
      if (!isUses(entry)) {
        if (table.has(entry.id)) continue; // duplicate, reported by the definition check
        const id = ctx.prefix + entry.id;
        table.set(entry.id, [id]);
        const { id: _id, needs, agent, ...rest } = entry;
        drafts.push({
          stage: {
            id,
            ...rest,
            agent: { ...agent, tier: agent?.tier ?? TASK_KIND_MIN_TIER[entry.task.kind] },
          },
          localId: entry.id,
          path: item.path,
          needs: needs.length > 0 ? refsFor(needs, item.path) : ctx.inherited,
        });
        continue;
      }
      const ns = namespaceOf(entry);
      if (table.has(ns) || opaque.has(ns)) continue;
      const t = this.templates.get(entry.uses);
      if (!t) {
        opaque.add(ns);
        if (!isRecord(this.raw) || !isRecord(this.raw.templates) || !(entry.uses in this.raw.templates)) {
          const known = [...this.templates.keys()];
          this.report(
            'unknown-template',
            [...item.path, 'uses'],
            `unknown template "${entry.uses}"${suggest(entry.uses, known)}${known.length ? ` (templates: ${known.join(', ')})` : ' (this file declares no templates)'}`,
          );
        }
        continue;
      }
      if (ctx.stack.includes(t.name) || ctx.stack.length >= DEFAULT_MAX_TEMPLATE_DEPTH) {
        opaque.add(ns);
        const trail = [...ctx.stack.slice(ctx.stack.indexOf(t.name)), t.name].join(' -> ');
        this.report('cycle', [...item.path, 'uses'], `template "${t.name}" uses itself: ${trail}`);
        continue;
      }
      this.usedTemplates.add(t.name);
      const values = new Map<string, Scalar>();
      for (const [k, spec] of t.scope.params) if (spec?.default !== undefined) values.set(k, spec.default);
      for (const [k, v] of Object.entries(entry.with)) values.set(k, v);
      const inner = this.expand(t.items, {
        prefix: `${ctx.prefix}${ns}.`,
        values,
        inherited: entry.needs.length > 0 ? refsFor(entry.needs, item.path) : ctx.inherited,
        stack: [...ctx.stack, t.name],
      });
      for (const d of inner) d.stage.template ??= { name: t.name, instance: ctx.prefix + ns };
      table.set(ns, exitsOf(inner));
      drafts.push(...inner);
    }

    const allIds = new Set(drafts.map((d) => d.stage.id));
    for (const ref of localRefs) {
      const direct = table.get(ref.name);
      if (direct) {
        ref.ids = direct;
      } else if (allIds.has(ctx.prefix + ref.name)) {
        ref.ids = [ctx.prefix + ref.name];
      } else if (!unnamed && !opaque.has(ref.name.split('.')[0] ?? ref.name)) {
        const known = [...table.keys()];
        this.report(
          'unknown-stage',
          ref.path,
          `"${ref.name}" is not a stage or template instance here${suggest(ref.name, known)}`,
        );
      }
    }
    return drafts;
  }

  // ---- whole-pipeline checks -------------------------------------------------------------

  private checkTiers(drafts: Draft[]): void {
    for (const d of drafts) {
      const { tier } = d.stage.agent;
      const kind = d.stage.task.kind;
      if (!canRunTaskKind(tier, kind)) {
        this.report(
          'tier-not-allowed',
          [...d.path, 'agent', 'tier'],
          `stage "${d.localId}" runs a "${kind}" task, which needs tier ${TASK_KIND_MIN_TIER[kind]} or above, but asks for ${tier}`,
        );
      }
    }
  }

  private checkCycles(drafts: Draft[], stages: ResolvedStage[]): void {
    const byId = new Map(drafts.map((d) => [d.stage.id, d]));
    for (const cycle of findCycles(stages)) {
      const [from, to] = cycle as [string, string];
      const ref = byId.get(from)?.needs.find((n) => n.ids.includes(to));
      const path = ref?.path ?? byId.get(from)?.path ?? [];
      this.report('cycle', path, `needs form a cycle: ${cycle.join(' -> ')}`);
    }
  }

  private report(code: Diagnostic['code'], path: Path, message: string, text?: string, key?: boolean): void {
    this.diagnostics.push(this.loc.diagnostic(code, path, message, { text, key }));
  }

  private dedupe(): Diagnostic[] {
    const seen = new Set<string>();
    return this.diagnostics.filter((d) => {
      const k = `${d.line}:${d.column}:${d.code}:${d.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
}

function toStages(drafts: Draft[]): ResolvedStage[] {
  return drafts.map((d) => ({ ...d.stage, needs: [...new Set(d.needs.flatMap((n) => n.ids))] }));
}

/** Stages of a template instance that no other stage of the instance needs. */
function exitsOf(drafts: Draft[]): string[] {
  const ids = new Set(drafts.map((d) => d.stage.id));
  const needed = new Set<string>();
  for (const d of drafts) for (const n of d.needs) for (const id of n.ids) if (ids.has(id)) needed.add(id);
  return drafts.map((d) => d.stage.id).filter((id) => !needed.has(id));
}

/** ` (did you mean "x"?)` when a known name is close to `name` (typos, swapped letters). */
export function suggest(name: string, known: readonly string[]): string {
  const allowed = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDist = allowed + 1;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDist && d < name.length) {
      best = k;
      bestDist = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}
