// Numbered schema migrations, applied at start in one transaction under an advisory lock so that
// several processes starting at once apply each migration exactly once. Each is a file in
// ./migrations/, `NNNN-name.sql` (the number is its version, the rest its name); the build copies
// them next to the compiled runner (scripts/build.ts).
// Kept hand-written: it must run on PGlite and pg alike through our `Db` in one transaction with
// pg-boss's own schema; node-pg-migrate and friends want a pg client and their own table.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Where the migration files are: beside this module, in the sources and in dist/ alike. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

const FILE = /^(\d{4})-([a-z0-9-]+)\.sql$/;

/** The migrations in `dir`, by version. Throws on a file that is not named `NNNN-name.sql` or a repeated version. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const list: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE.exec(file);
    if (!m) throw new Error(`${join(dir, file)}: a migration is named NNNN-name.sql`);
    const version = Number(m[1]);
    if (list.some((x) => x.version === version)) throw new Error(`${join(dir, file)}: migration ${version} exists twice`);
    list.push({ version, name: m[2]!.replaceAll('-', ' '), sql: readFileSync(join(dir, file), 'utf8') });
  }
  return list;
}

export const migrations: readonly Migration[] = loadMigrations();

const LOCK_KEY = 74_205_118; // arbitrary, constant: "agentwire migrations"

export async function migrate(db: Db, list: readonly Migration[] = migrations): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
