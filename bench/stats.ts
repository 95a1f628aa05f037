/** Small statistics helpers for benches. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Prints the bench's closing line: one JSON object. */
export function report(
  bench: string,
  results: Record<string, unknown>,
  ratios: Record<string, number>,
): void {
  process.stdout.write(`${JSON.stringify({ bench, results, ratios })}\n`);
}
