// PgNotifier sends no NOTIFY while no other agentwire process listens on its database, and
// starts as soon as one does: the newcomer counts the listeners already there, and announces
// itself to them (they answer, and it catches up from the log). A real PostgreSQL: a fresh
// database per test, two notifiers on it, and the statements they send captured on their way.
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.js';
import { PgNotifier, type NotifierHandlers, type EventHint } from '../../src/runs/notifier.js';
import { createPgDb } from '../../src/store/pg.js';
import type { Db } from '../../src/store/db.js';
import { freshPostgresDatabase } from '../helpers/backends.js';
import { until } from '../helpers/wait.js';

const log = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;

const pgOnly = process.env.DATABASE_URL ? describe : describe.skip;
if (!process.env.DATABASE_URL) process.stderr.write('notifier-peers: skipped, it needs PostgreSQL (DATABASE_URL)\n');

/** A notifier on `url` whose NOTIFY statements are counted, and what its handlers received. */
function node(url: string, db: Db, id: string) {
  const notifies: string[] = [];
  const got = { hints: [] as EventHint[], reconnects: 0 };
  const n = new PgNotifier(
    url,
    (sql, params) => {
      notifies.push(sql);
      return db.query(sql, params as unknown[]);
    },
    id,
    log,
  );
  const handlers: NotifierHandlers = {
    onEvents: (h) => got.hints.push(...h),
    onCancel: () => undefined,
    onQueued: () => undefined,
    onReconnect: () => got.reconnects++,
  };
  return { n, notifies, got, start: () => n.start(handlers) };
}

/** Two turns of the event loop: a publish's flush (scheduled with setImmediate) has run by then. */
const flushed = async () => {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
};

pgOnly('PgNotifier with and without other listeners', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function database() {
    const fresh = await freshPostgresDatabase();
    const db = createPgDb({ connectionString: fresh.url, log });
    cleanup.push(async () => {
      await db.close();
      await fresh.drop();
    });
    return { url: fresh.url, db };
  }

  it('alone, a node publishes nothing; once another listens, it publishes and the other receives', async () => {
    const { url, db } = await database();
    const a = node(url, db, 'node-a');
    await a.start();
    cleanup.push(() => a.n.stop());
    const announced = a.notifies.length; // its own hello
    a.n.publishEvent('u1', 'r1', 1);
    a.n.publishCancel('r1', 'user');
    a.n.publishQueued();
    await flushed();
    expect(a.notifies).toHaveLength(announced);

    const b = node(url, db, 'node-b');
    await b.start();
    cleanup.push(() => b.n.stop());
    // b's hello reaches a, which answers; the answer tells b to catch up from the log.
    await until(() => b.got.reconnects > 0, 'node b to hear node a answer its hello');
    a.n.publishEvent('u1', 'r1', 2);
    await until(() => b.got.hints.some((h) => h.runId === 'r1' && h.toSeq === 2), 'node b to receive node a’s hint');
    // And b, which counted a when it started, publishes to a.
    b.n.publishEvent('u2', 'r2', 1);
    await until(() => a.got.hints.some((h) => h.runId === 'r2'), 'node a to receive node b’s hint');
  });

  it('a listener that was there first is counted at start: the newcomer publishes at once', async () => {
    const { url, db } = await database();
    const a = node(url, db, 'node-a');
    await a.start();
    cleanup.push(() => a.n.stop());
    const b = node(url, db, 'node-b');
    await b.start();
    cleanup.push(() => b.n.stop());
    const before = b.notifies.length;
    b.n.publishEvent('u3', 'r3', 4);
    await until(() => a.got.hints.some((h) => h.runId === 'r3' && h.toSeq === 4), 'node a to receive the hint');
    expect(b.notifies.length).toBeGreaterThan(before);
  });
});
