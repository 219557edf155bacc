// `Db` over embedded PGlite: one in-process PostgreSQL, one connection. PGlite serialises
// queries itself and a transaction holds the connection until it ends.
import { mkdirSync } from 'node:fs';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { Db, Queryable, Row } from './db.js';

export interface PgliteDbOptions {
  /** A directory for a persistent database, or `memory://` for a throwaway one. */
  dataDir: string;
}

const parsers = {
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => Number(v),
};

export async function createPgliteDb(options: PgliteDbOptions): Promise<Db> {
  if (!options.dataDir.startsWith('memory://')) mkdirSync(options.dataDir, { recursive: true });
  const lite = await PGlite.create(options.dataDir, { parsers });

  const wrap = (q: PGlite | Transaction): Queryable => ({
    async query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      const res = await q.query<R>(sql, params as unknown[] | undefined);
      return res.rows;
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
    async simple(sql: string): Promise<Row[]> {
      const results = await q.exec(sql);
      return (results[results.length - 1]?.rows ?? []) as Row[];
    },
  });
  const base = wrap(lite);
  let closed = false;

  return {
    kind: 'pglite',
    query: base.query,
    exec: base.exec,
    simple: base.simple,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return lite.transaction((tx) => fn(wrap(tx)));
    },
    async ping(): Promise<boolean> {
      return !lite.closed;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await lite.close();
    },
  };
}
