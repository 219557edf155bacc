// What the heavier projects need beyond `npm install`, checked once per run: the browser tests
// need Chromium, the fault tests PostgreSQL's server binaries. Missing, a project skips with one
// printed line saying what is missing and how to get it; with REQUIRE_ALL_TESTS=1 (.ci/run sets
// it) it fails instead, so CI never passes by skipping.
import { existsSync } from 'node:fs';
import { pgServerMissing } from './pg-cluster.js';

/** The browser the tests drive (playwright-core never downloads one): Debian's, or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  return `Chromium is not at ${CHROMIUM}: install it (Debian, Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary`;
}

export const requirements = {
  browser: chromiumMissing,
  faults: pgServerMissing,
} as const;

/** For a project's globalSetup: prints the one line (or throws under REQUIRE_ALL_TESTS=1). */
export function announce(project: keyof typeof requirements): void {
  const missing = requirements[project]();
  if (!missing) return;
  if (process.env.REQUIRE_ALL_TESTS === '1') throw new Error(`${project} tests cannot run (REQUIRE_ALL_TESTS=1): ${missing}`);
  process.stderr.write(`\n${project} tests skipped: ${missing}\n`);
}
