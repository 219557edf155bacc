// The floors agentwire is measured beside, in the same run:
// - FLOOR=a: raw uWebSockets.js answering each `agent_request` with the same frames agentwire
//   sends (run_accepted, then the run's events), doing no work at all;
// - FLOOR=b: floor A plus the minimum durable work with plain `pg`: store the run and its job in
//   one statement, claim the job, store each event before sending it, complete the job and the
//   run (8 statements per golden-path run, nothing batched, no framework).
// The request text picks the run: `golden` (the five golden-path events) or `stream N` (agent_started,
// N agent_output pieces, agent_completed). Answers `{gc: true}` over IPC (see lib/proc.ts).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import uWS from 'uWebSockets.js';
import { answerGcRequests } from '../lib/proc.js';

const mode = process.env.FLOOR === 'b' ? 'b' : 'a';
const pool = mode === 'b' ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.FLOOR_POOL ?? 20) }) : undefined;
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

answerGcRequests();
app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (sock) => {
  if (!sock) throw new Error('cannot listen');
  console.log(JSON.stringify({ floor: mode, listening: uWS.us_socket_local_port(sock) }));
});
