import { defineConfig } from 'vitest/config';

// The suite is split into projects a reader can run alone (`npm run test:unit` …), like the
// phases of a release test plan; `npm test` runs them all.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'property',
          include: ['tests/property/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Real processes, a private PostgreSQL, injected faults. One file at a time: they
          // start several processes each and must not starve one another of the 2 cores.
          name: 'faults',
          include: ['tests/faults/**/*.test.ts'],
          // Without PostgreSQL's server binaries: one line saying so, and the files skip.
          globalSetup: ['tests/setup/faults.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          // Without Chromium: one line saying so, and the files skip.
          globalSetup: ['tests/setup/browser.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Hostile input against a real server: fuzzed frames and bodies, JWT forgeries,
          // cross-user probes, floods, slowloris, a compression bomb (docs/security.md).
          name: 'attack',
          include: ['tests/attack/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The package as a user gets it: npm pack, the tarball installed into an empty directory,
          // the examples' tests, servers and golden paths (tests/package).
          name: 'package',
          include: ['tests/package/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
