import { describe, expect, it } from 'vitest';
import { PipelineInvalidError } from '../../protocols/vocabulary/errors.ts';
import {
  dependentsOf,
  findCycles,
  parsePipeline,
  readyStages,
  topologicalOrder,
} from '../../protocols/pipeline/index.ts';

const stage = (id: string, ...needs: string[]) => ({ id, needs });
const diamond = {
  stages: [
    stage('deploy', 'test', 'lint'),
    stage('test', 'build'),
    stage('build'),
    stage('lint', 'build'),
    stage('docs'),
  ],
};
const ids = (xs: { id: string }[]) => xs.map((s) => s.id);

describe('topologicalOrder', () => {
  it('puts every stage after what it needs, keeping declaration order among free stages', () => {
    expect(ids(topologicalOrder(diamond))).toEqual(['build', 'test', 'lint', 'deploy', 'docs']);
  });

  it('throws PipelineInvalidError naming the cycle', () => {
    expect(() => topologicalOrder({ stages: [stage('a', 'b'), stage('b', 'a')] })).toThrow(
      PipelineInvalidError,
    );
    expect(() => topologicalOrder({ stages: [stage('a', 'b'), stage('b', 'a')] })).toThrow(/a -> b -> a/);
  });

  it('orders a parsed pipeline with templates', () => {
    const r = parsePipeline(`name: x
version: 1
templates:
  t:
    stages:
      - { id: one, task: { kind: noop } }
      - { id: two, needs: [one], task: { kind: noop } }
stages:
  - { id: last, needs: [inst], task: { kind: noop } }
  - { uses: t, as: inst }
`);
    if (!r.ok) throw new Error('expected a valid pipeline');
    expect(ids(topologicalOrder(r.pipeline))).toEqual(['inst.one', 'inst.two', 'last']);
  });
});

describe('readyStages', () => {
  it('returns the stages whose needs are all done', () => {
    expect(ids(readyStages(diamond, new Set()))).toEqual(['build', 'docs']);
    expect(ids(readyStages(diamond, new Set(['build'])))).toEqual(['test', 'lint', 'docs']);
    expect(ids(readyStages(diamond, new Set(['build', 'test'])))).toEqual(['lint', 'docs']);
    expect(ids(readyStages(diamond, new Set(['build', 'test', 'lint', 'docs'])))).toEqual(['deploy']);
  });

  it('returns nothing once every stage is done', () => {
    expect(readyStages(diamond, new Set(diamond.stages.map((s) => s.id)))).toEqual([]);
  });
});

describe('dependentsOf', () => {
  it('lists every stage that needs a stage, directly or not', () => {
    expect(dependentsOf(diamond, 'build')).toEqual(['deploy', 'test', 'lint']);
    expect(dependentsOf(diamond, 'lint')).toEqual(['deploy']);
    expect(dependentsOf(diamond, 'docs')).toEqual([]);
  });
});

describe('findCycles', () => {
  it('finds each distinct cycle once, in needs direction', () => {
    const cycles = findCycles([
      stage('a', 'b'),
      stage('b', 'c'),
      stage('c', 'a'),
      stage('d', 'd'),
      stage('e', 'a'),
    ]);
    expect(cycles).toEqual([
      ['a', 'b', 'c', 'a'],
      ['d', 'd'],
    ]);
  });

  it('ignores needs of unknown stages', () => {
    expect(findCycles([stage('a', 'ghost')])).toEqual([]);
  });
});
