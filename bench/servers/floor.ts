// The floors agentwire is measured beside, in the same run:
// - FLOOR=a: raw uWebSockets.js answering each `agent_request` with the same frames agentwire
//   sends (run_accepted, then the run's events), doing no work at all;
// - FLOOR=b: floor A plus the minimum durable work with plain `pg`: store the run and its job in
//   one statement, claim the job, store each event before sending it, complete the job and the
//   run (8 statements per golden-path run, nothing batched, no framework);
// - FLOOR=c: floor A plus group commit across runs, in plain `pg`: each run's row, its job and all
//   its events are stored before any of its frames is sent, but everything that arrived while the
//   previous write was in flight is stored together, in one statement and one commit.
// The request text picks the run: `golden` (the five golden-path events) or `stream N` (agent_started,
// N agent_output pieces, agent_completed). Answers `{gc: true}` over IPC (see lib/proc.ts).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import uWS from 'uWebSockets.js';
import { answerGcRequests } from '../lib/proc.js';

const mode = process.env.FLOOR === 'b' || process.env.FLOOR === 'c' ? process.env.FLOOR : 'a';
const pool = mode !== 'a' ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.FLOOR_POOL ?? 20) }) : undefined;
pool?.on('error', () => undefined);

if (pool) {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS floor_runs (id uuid PRIMARY KEY, user_id text NOT NULL, thread_id uuid NOT NULL, status text NOT NULL, input jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz);
    CREATE TABLE IF NOT EXISTS floor_jobs (id uuid PRIMARY KEY, state text NOT NULL, data jsonb NOT NULL, created_on timestamptz NOT NULL DEFAULT now(), started_on timestamptz, completed_on timestamptz);
    CREATE INDEX IF NOT EXISTS floor_jobs_created ON floor_jobs (created_on) WHERE state = 'created';
    CREATE TABLE IF NOT EXISTS floor_events (run_id uuid NOT NULL, seq int NOT NULL, type text NOT NULL, body jsonb NOT NULL, PRIMARY KEY (run_id, seq));`);
}

type Body = Record<string, unknown> & { type: string };

function runBodies(text: string): Body[] {
  const m = /^stream (\d+)$/.exec(text);
  if (m) {
    const n = Number(m[1]);
    const out: Body[] = [{ type: 'agent_started', agent: 'bench', input: { text } }];
    for (let i = 0; i < n; i++) out.push({ type: 'agent_output', text: `piece ${i} ` });
    out.push({ type: 'agent_completed', text: Array.from({ length: n }, (_, i) => `piece ${i} `).join(''), durationMs: 0 });
    return out;
  }
  const toolCallId = randomUUID();
  return [
    { type: 'agent_started', agent: 'bench', input: { text } },
    { type: 'agent_thinking', text: 'benchmark' },
    { type: 'tool_executing', toolCallId, tool: 'bench_echo', args: { n: 1 } },
    { type: 'tool_completed', toolCallId, tool: 'bench_echo', ok: true, result: { n: 1 }, durationMs: 0 },
    { type: 'agent_completed', text: 'done', durationMs: 0 },
  ];
}

interface Sock {
  userId: string;
  closed: boolean;
}

const app = uWS.App();
app.ws<Sock>('/v1/ws', {
  compression: uWS.DISABLED,
  maxPayloadLength: 256 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    res.upgrade<Sock>(
      { userId: randomUUID(), closed: false },
      req.getHeader('sec-websocket-key'),
      'agentwire.v1',
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    ws.send(JSON.stringify({ type: 'session_ready', sessionId: randomUUID(), userId: ws.getUserData().userId, serverTime: new Date().toISOString(), limits: {}, runs: [] }));
  },
  message: (ws, message) => {
    const frame = JSON.parse(Buffer.from(message).toString('utf8')) as { type: string; requestId?: string; input?: { text: string }; id?: string };
    if (frame.type === 'ping') return void ws.send(JSON.stringify({ type: 'pong', id: frame.id }));
    if (frame.type !== 'agent_request' || !frame.input || !frame.requestId) return;
    const runId = randomUUID();
    const threadId = randomUUID();
    const accepted = JSON.stringify({ type: 'run_accepted', requestId: frame.requestId, runId, threadId });
    const bodies = runBodies(frame.input.text);
    const event = (b: Body, i: number) => JSON.stringify({ ...b, runId, threadId, seq: i + 1, ts: new Date().toISOString() });
    const user = ws.getUserData();
    if (!pool) {
      ws.cork(() => {
        ws.send(accepted);
        bodies.forEach((b, i) => ws.send(event(b, i)));
      });
      return;
    }
    if (mode === 'c') {
      grouped.push({ runId, threadId, userId: user.userId, text: frame.input.text, frames: [accepted, ...bodies.map(event)], types: bodies.map((b) => b.type), sendAll: (frames) => !user.closed && ws.cork(() => frames.forEach((f) => ws.send(f))) });
      return pumpGroup();
    }
    void durable(user, runId, threadId, frame.input.text, accepted, bodies, event, (s) => {
      if (!user.closed) ws.send(s);
    });
  },
  close: (ws) => {
    ws.getUserData().closed = true;
  },
});

async function durable(user: Sock, runId: string, threadId: string, text: string, accepted: string, bodies: Body[], event: (b: Body, i: number) => string, send: (s: string) => void) {
  const p = pool!;
  await p.query(
    `WITH r AS (INSERT INTO floor_runs (id, user_id, thread_id, status, input) VALUES ($1, $2, $3, 'queued', $4) RETURNING id)
     INSERT INTO floor_jobs (id, state, data) SELECT id, 'created', $4 FROM r`,
    [runId, user.userId, threadId, JSON.stringify({ text })],
  );
  send(accepted);
  await p.query(`UPDATE floor_jobs SET state = 'active', started_on = now() WHERE id = $1 AND state = 'created' RETURNING id`, [runId]);
  for (const [i, b] of bodies.entries()) {
    const json = event(b, i);
    await p.query('INSERT INTO floor_events (run_id, seq, type, body) VALUES ($1, $2, $3, $4)', [runId, i + 1, b.type, json]);
    send(json);
  }
  await p.query(
    `WITH j AS (UPDATE floor_jobs SET state = 'completed', completed_on = now() WHERE id = $1)
     UPDATE floor_runs SET status = 'completed', finished_at = now() WHERE id = $1`,
    [runId],
  );
}

// Floor C: the runs waiting for the next group write, and whether one is in flight.
interface Grouped {
  runId: string;
  threadId: string;
  userId: string;
  text: string;
  /** run_accepted, then the run's events in order. */
  frames: string[];
  types: string[];
  sendAll: (frames: string[]) => unknown;
}
let grouped: Grouped[] = [];
let groupInFlight = false;

const GROUP_SQL = `WITH r AS (
    INSERT INTO floor_runs (id, user_id, thread_id, status, input, finished_at)
    SELECT id, u, t, 'completed', inp::jsonb, now() FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[]) AS x(id, u, t, inp)
  ), j AS (
    INSERT INTO floor_jobs (id, state, data, started_on, completed_on)
    SELECT id, 'completed', inp::jsonb, now(), now() FROM unnest($1::uuid[], $4::text[]) AS x(id, inp)
  )
  INSERT INTO floor_events (run_id, seq, type, body) SELECT run_id, seq, type, body::jsonb FROM unnest($5::uuid[], $6::int[], $7::text[], $8::text[]) AS e(run_id, seq, type, body)`;

function pumpGroup(): void {
  if (groupInFlight || grouped.length === 0) return;
  const batch = grouped;
  grouped = [];
  groupInFlight = true;
  const events = batch.flatMap((g) => g.types.map((type, i) => ({ runId: g.runId, seq: i + 1, type, body: g.frames[i + 1]! })));
  void pool!
    .query({
      name: 'floor_c_group',
      text: GROUP_SQL,
      values: [batch.map((g) => g.runId), batch.map((g) => g.userId), batch.map((g) => g.threadId), batch.map((g) => JSON.stringify({ text: g.text })), events.map((e) => e.runId), events.map((e) => e.seq), events.map((e) => e.type), events.map((e) => e.body)],
    })
    .then(
      () => batch.forEach((g) => g.sendAll(g.frames)),
      (err: unknown) => console.error(err),
    )
    .finally(() => {
      groupInFlight = false;
      pumpGroup();
    });
}

answerGcRequests();
app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (sock) => {
  if (!sock) throw new Error('cannot listen');
  console.log(JSON.stringify({ floor: mode, listening: uWS.us_socket_local_port(sock) }));
});
