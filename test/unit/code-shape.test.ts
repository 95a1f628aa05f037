import { describe, expect, it } from 'vitest';
import { describeOversize, MAX_FUNCTION_LINES, oversize, oversizeIn } from './code-shape.ts';

describe('the code keeps the house size limits (docs/conventions.md)', () => {
  it('has no file over 500 lines and no function over 120 lines outside test/', () => {
    expect(oversize().map(describeOversize)).toEqual([]);
  });

  it('names a function past the limit, nested closures by their path (the check can fail)', () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = `export function outer() {\n  const inner = () => {\n${body}\n  };\n  return inner;\n}\n`;
    const found = oversizeIn('x.ts', text).map((o) => o.name);
    expect(found).toEqual(['outer', 'outer/inner']);
  });

  it('counts a method under its class name', () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, () => '    this.n++;').join('\n');
    const text = `class Box {\n  n = 0;\n  grow() {\n${body}\n  }\n}\n`;
    expect(oversizeIn('x.ts', text).map((o) => o.name)).toEqual(['Box.grow']);
  });
});
