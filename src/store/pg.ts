// `Db` over node-postgres. The pool's `error` listener matters: an idle client that dies when
// PostgreSQL restarts emits `error` on the pool, and without a listener the process crashes.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { Db, Queryable, Row } from './db.js';

/**
 * This pool's type parsers (not `pg.types.setTypeParser`, which would change every pool in the
 * process, an embedder's too): int8 (counts, sums) as numbers, since every value we store fits
 * comfortably in 2^53; numeric as numbers, since money figures are display values, not ledger entries.
 */
const INT8 = 20;
const NUMERIC = 1700;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 || oid === NUMERIC ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PgDbOptions {
  connectionString: string;
  max?: number;
  log: Logger;
}

export function createPgDb(options: PgDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    application_name: 'agentwire',
    types,
  });
  pool.on('error', (err) => options.log.warn({ err }, 'idle database client failed'));

  const wrap = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      const name = statementName(sql);
      const values = params as unknown[] | undefined;
      const res = await (name ? client.query({ name, text: sql, values }) : client.query(sql, values));
      return res.rows as R[];
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
    async simple(sql: string): Promise<Row[]> {
      const res = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return (last?.rows ?? []) as Row[];
    },
  });

  const base = wrap(pool);
  let closed = false;

  return {
    kind: 'pg',
    query: base.query,
    exec: base.exec,
    simple: base.simple,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // A checked-out client has no listener of the pool's: without this one, a connection that
      // dies mid-transaction (PostgreSQL restarting) emits an uncaught 'error' and ends the process.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
        options.log.warn({ err }, 'database connection failed during a transaction');
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (!broken) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onError);
        // A broken client is destroyed, not returned to the pool.
        client.release(broken);
      }
    },
    async ping(): Promise<boolean> {
      // A readiness probe must answer quickly even while the database is unreachable.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 1_000)));
      try {
        return await Promise.race([pool.query('SELECT 1').then(() => true, () => false), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

// Named statements are parsed and planned once per connection instead of on every call: the
// hot path (appends, claims, accepts) repeats a handful of texts thousands of times a second.
// The set is bounded, so SQL built with varying text cannot grow each connection's cache forever.
const MAX_NAMED = 500;
const names = new Map<string, string>();

function statementName(sql: string): string | undefined {
  const known = names.get(sql);
  if (known !== undefined || names.size >= MAX_NAMED) return known;
  const name = `aw_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
  names.set(sql, name);
  return name;
}
