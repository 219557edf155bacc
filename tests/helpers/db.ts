// A real database for integration tests: PGlite in a temporary directory, or a fresh PostgreSQL database.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import type { Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { createPgDb } from '../../src/store/pg.js';
import { createPgliteDb } from '../../src/store/pglite.js';
import { freshPostgresDatabase, type Backend } from './backends.js';

export interface TestDb {
  db: Db;
  /** Opens another connection to the same database (PostgreSQL only; PGlite has one). */
  another(): Promise<Db>;
  /** Closes and reopens (PGlite: the same directory). */
  reopen(): Promise<Db>;
  dispose(): Promise<void>;
}

const log = createLogger('silent');

/**
 * A freshly initialised PGlite data directory, made once per test file and copied for each test:
 * PGlite's initdb (in WebAssembly) takes seconds, a copy of its 40 MB well under one. Empty, not
 * migrated: tests that migrate still start from nothing.
 */
let template: Promise<string> | undefined;
export function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentwire-db-template-'));
    await (await createPgliteDb({ dataDir: dir })).close();
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return template;
}

export async function openTestDb(backend: Backend): Promise<TestDb> {
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'agentwire-db-'));
    cpSync(await pgliteTemplate(), dir, { recursive: true });
    let db = await createPgliteDb({ dataDir: dir });
    return {
      get db() {
        return db;
      },
      another: () => Promise.reject(new Error('PGlite has a single connection')),
      async reopen() {
        await db.close();
        db = await createPgliteDb({ dataDir: dir });
        return db;
      },
      async dispose() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const fresh = await freshPostgresDatabase();
  const others: Db[] = [];
  let db = createPgDb({ connectionString: fresh.url, log });
  return {
    get db() {
      return db;
    },
    async another() {
      const d = createPgDb({ connectionString: fresh.url, log });
      others.push(d);
      return d;
    },
    async reopen() {
      await db.close();
      db = createPgDb({ connectionString: fresh.url, log });
      return db;
    },
    async dispose() {
      await Promise.all([db.close(), ...others.map((o) => o.close())]);
      await fresh.drop();
    },
  };
}

/**
 * A fresh, migrated database of `backend` for each test of the calling suite: `use` gets it before
 * the test (register hooks that need it after this call: they run after it, and their `afterEach`
 * before its dispose).
 */
export function migratedDbPerTest(backend: Backend, use: (t: TestDb) => void): void {
  let t: TestDb | undefined;
  beforeEach(async () => {
    t = await openTestDb(backend);
    await migrate(t.db);
    use(t);
  });
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });
}
