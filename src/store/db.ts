// One small database interface with PostgreSQL (`pg`) and embedded PGlite behind it.
// Everything above `store/` speaks this interface, never a driver.

export type Row = Record<string, unknown>;

export interface Queryable {
  /** One statement, positional parameters ($1, $2 …). Returns the rows. */
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements, no parameters (schema scripts). */
  exec(sql: string): Promise<void>;
  /** Simple-protocol query, several statements allowed: the rows of the last one (pg-boss needs this). */
  simple(sql: string): Promise<Row[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** True once the last round trip succeeded; false after a connection failure until one succeeds. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
