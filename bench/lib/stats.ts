// Order statistics for benchmark figures. Percentiles are nearest-rank on a sorted copy.
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 0.5);

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** p50/p99/p99.9 and max of latencies in ms, rounded to 0.1 ms. */
export function latencySummary(xs: readonly number[]): { n: number; p50: number; p90: number; p99: number; p999: number; max: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (p: number) => round(sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]! : NaN);
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: round(sorted[sorted.length - 1] ?? NaN) };
}
