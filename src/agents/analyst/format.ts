// Number formatting done by hand: `toLocaleString` depends on the ICU data of the Node build, and
// the analyst's answers must be byte-for-byte deterministic.

function group(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

export function fmtUsd(n: number): string {
  const [i, f] = Math.abs(n).toFixed(2).split('.') as [string, string];
  return `${n < 0 && Number(`${i}.${f}`) !== 0 ? '-' : ''}$${group(i)}.${f}`;
}

/** A per-1M-token price: at least 2 decimals, up to 3 (e.g. $0.075). */
export function fmtPrice(n: number): string {
  const s = n.toFixed(3).replace(/0$/, '');
  const [i, f] = s.split('.') as [string, string];
  return `$${group(i)}.${f}`;
}

export function fmtInt(n: number): string {
  return group(String(Math.round(n)));
}

/** Large counts compactly for thinking lines: 1.2M, 340k. */
export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return fmtInt(n);
}

export function fmtPct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
