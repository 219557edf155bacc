// Arbitrary frames from a hostile user (Mallory) against a real server where another user (Alice)
// has threads and runs with private text. fast-check generates valid frame types with mutated
// fields (Alice's ids among them), random JSON, random bytes, deep nesting and huge strings;
// strings carry NUL and lone UTF-16 surrogates too (text the database cannot store). Every input
// must be answered with a protocol answer (an `error` with a section 5 code other than `internal`,
// a `pong`, or Mallory's own `run_accepted` and run events) or a protocol close code; the server
// never crashes;
// and nothing Mallory receives carries Alice's ids (unless Mallory sent them and they are echoed)
// or text.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/protocol/errors.js';
import { primaryBackend } from '../helpers/backends.js';
import type { Frame, TestClient } from '../helpers/client.js';
import type { TestServer, TestUser } from '../helpers/server.js';
import { hostileString, hostileUnit, isServerFailure, leakIn, ready, type Secrets } from './support.js';

const RUN_EVENTS = new Set(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed', 'agent_error', 'agent_cancelled']);
/** Close codes that answer an input (PROTOCOL section 5); 1006 only where a test expects it. */
const PROTOCOL_CLOSES = new Set([1008, 1009]);

const tally = { inputs: 0, crashes: 0, leaks: 0, closes: 0, failures: 0, answers: {} as Record<string, number> };
const closeCodes: Record<number, number> = {};

export function describeFrameFuzzing(getServer: () => TestServer): void {
describe(`frame fuzzing on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;
  let mallory: TestUser;
  let aliceSocket: TestClient;
  let m: TestClient;
  const secrets: Secrets = { ids: [], texts: [] };
  const malloryRuns = new Set<string>();
  const pool: string[] = [];
  let sentinel = 0;

  beforeAll(async () => {
    server = getServer();
    [alice, mallory] = await Promise.all([server.register(), server.register()]);
    aliceSocket = await server.connect(alice.token);
    await ready(aliceSocket);
    for (let i = 0; i < 3; i++) {
      const text = `alice-secret-${i}-${Math.random().toString(36).slice(2)}`;
      const acc = await aliceSocket.request(text, { agent: 'echo' });
      await aliceSocket.runEvents(acc.runId as string);
      secrets.ids.push(acc.runId as string, acc.threadId as string);
      secrets.texts.push(text);
    }
    secrets.ids.push(alice.userId);
    secrets.texts.push(alice.token);
    pool.push(...secrets.ids, crypto.randomUUID(), 'not-a-uuid', '', 'x'.repeat(129), "' OR 1=1 --", '../../etc/passwd', '\u0000', '🔥');
    m = await server.connect(mallory.token);
    await ready(m);
  });
  afterAll(async () => {
     
    console.log(`attack/frames: inputs ${tally.inputs}, crashes ${tally.crashes}, leaks ${tally.leaks}, internal ${tally.failures}, protocol closes ${JSON.stringify(closeCodes)}; answers ${JSON.stringify(tally.answers)}`);
  });

  /** Sends one input, then a ping as a sentinel; checks every frame received up to the sentinel's pong (or the close). */
  async function probe(input: string | Uint8Array, sent: Record<string, unknown> | undefined): Promise<void> {
    tally.inputs++;
    const from = m.frames.length;
    const id = `sentinel-${++sentinel}`;
    if (typeof input === 'string') m.send(input);
    else m.ws.send(input, { binary: true });
    m.send({ type: 'ping', id });
    const outcome = await Promise.race([m.waitFor((f) => f.type === 'pong' && f.id === id, from).then(() => 'answered' as const), m.closed]);
    const got = m.frames.slice(from);
    const echoed = sent ? JSON.stringify(sent) : typeof input === 'string' ? input : '';
    for (const f of got) checkFrame(f, echoed);
    if (outcome !== 'answered') {
      tally.closes++;
      closeCodes[outcome] = (closeCodes[outcome] ?? 0) + 1;
      expect(PROTOCOL_CLOSES.has(outcome), `close code ${outcome}`).toBe(true);
      m = await server.connect(mallory.token);
      await ready(m);
    }
  }

  function checkFrame(f: Frame, echoed: string): void {
    const kind = f.type === 'error' ? `error:${String(f.code)}` : f.type;
    tally.answers[kind] = (tally.answers[kind] ?? 0) + 1;
    if (f.type === 'run_accepted') malloryRuns.add(f.runId as string);
    // `internal` answers no input: it is the server failing on one.
    if (f.type === 'error' && isServerFailure(f.code as string)) tally.failures++;
    const ok =
      (f.type === 'error' && (ERROR_CODES as readonly string[]).includes(f.code as string) && !isServerFailure(f.code as string) && typeof f.message === 'string') ||
      f.type === 'pong' ||
      f.type === 'run_accepted' ||
      (RUN_EVENTS.has(f.type) && malloryRuns.has(f.runId as string));
    expect(ok, `unexpected frame ${JSON.stringify(f).slice(0, 300)}`).toBe(true);
    if (f.type === 'error') expect(f.message).not.toMatch(/\bat \w+ \(|node_modules|SELECT|INSERT|postgres|pglite|TypeError|ReferenceError/i);
    const leak = leakIn(JSON.stringify(f), secrets, [echoed]);
    if (leak) tally.leaks++;
    expect(leak, `leak of ${leak} in ${JSON.stringify(f).slice(0, 300)}`).toBeUndefined();
  }

  /** Built once the pool of ids exists (after beforeAll). */
  const arbitraries = () => {
  const anyId = () => fc.oneof(fc.constantFrom(...pool), fc.string({ maxLength: 40 }), hostileString(40), fc.uuid());
  const anyValue = fc.oneof(anyId(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3, stringUnit: hostileUnit }));
  /** Text for an agent_request: ordinary, or holding NUL and lone surrogates. */
  const anyText = fc.oneof(fc.string({ maxLength: 60 }), hostileString(60));
  /** Each frame type of section 3 with its fields drawn from legal and illegal values. */
  const mutatedFrame = fc.oneof(
    fc.record(
      {
        type: fc.constant('agent_request'),
        requestId: fc.oneof(anyId(), anyValue),
        input: fc.oneof(fc.record({ text: fc.oneof(anyText, anyValue) }), anyValue),
        threadId: fc.oneof(anyId(), anyValue),
        agent: fc.oneof(fc.constantFrom('echo', 'analyst', 'nope', ''), anyValue),
        onBusy: fc.oneof(fc.constantFrom('reject', 'enqueue', 'interrupt', 'steal'), anyValue),
        extra: anyValue,
      },
      { requiredKeys: ['type'] },
    ),
    fc.record(
      {
        type: fc.constant('resume'),
        runs: fc.oneof(fc.array(fc.record({ runId: anyId(), afterSeq: fc.oneof(fc.integer({ min: -5, max: 50 }), anyValue) }, { requiredKeys: [] }), { maxLength: 5 }), anyValue),
        extra: anyValue,
      },
      { requiredKeys: ['type'] },
    ),
    fc.record({ type: fc.constant('ack'), runId: fc.oneof(anyId(), anyValue), seq: fc.oneof(fc.integer({ min: -5, max: 50 }), anyValue), extra: anyValue }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('cancel_run'), runId: fc.oneof(anyId(), anyValue), extra: anyValue }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('ping'), id: anyValue, extra: anyValue }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.oneof(fc.string({ maxLength: 20 }), anyValue), runId: anyId(), requestId: anyId() }, { requiredKeys: ['type'] }),
  );
  /** Well-formed frames naming ids from the pool: these reach the ownership checks. */
  const poolId = fc.constantFrom(...pool.filter((x) => x.length > 0 && x.length <= 128));
  const seq = fc.integer({ min: 0, max: 5 });
  const wellFormed = fc.oneof(
    fc.record({ type: fc.constant('agent_request'), requestId: fc.uuid(), input: fc.record({ text: fc.constantFrom('hi', 'what is in the other thread?') }), threadId: poolId, agent: fc.constant('echo'), onBusy: fc.constantFrom('reject', 'enqueue', 'interrupt') }),
    // A new thread with text or a requestId the database cannot store: refused, never `internal`.
    fc.record({ type: fc.constant('agent_request'), requestId: fc.oneof(fc.uuid(), hostileString(20).filter((s) => s.length > 0)), input: fc.record({ text: anyText }), agent: fc.constant('echo') }),
    fc.record({ type: fc.constant('resume'), runs: fc.array(fc.record({ runId: poolId, afterSeq: seq }), { minLength: 1, maxLength: 4 }) }),
    fc.record({ type: fc.constant('ack'), runId: poolId, seq }),
    fc.record({ type: fc.constant('cancel_run'), runId: poolId }),
  );
  return { mutatedFrame: fc.oneof({ arbitrary: mutatedFrame, weight: 2 }, { arbitrary: wellFormed, weight: 1 }) };
  };

  it('valid frame types with mutated fields (Alice\'s ids among them)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraries().mutatedFrame, async (frame) => {
        await probe(JSON.stringify(frame), frame as Record<string, unknown>);
      }),
      { numRuns: 1200, seed: 10 },
    );
  });

  it('random JSON values and random text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json({ maxDepth: 4 }), fc.json({ maxDepth: 4, stringUnit: hostileUnit }), fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), hostileString(200)), async (text) => {
        await probe(text, undefined);
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it('random bytes as binary frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        await probe(bytes, undefined);
      }),
      { numRuns: 200, seed: 12 },
    );
  });

  it('deep nesting and huge strings (under and over maxFrameBytes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 100, max: 30_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
          fc.integer({ min: 100, max: 10_000 }).map((d) => `{"type":"ping","id":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
          fc.integer({ min: 100, max: 20_000 }).map((d) => `{"type":"resume","runs":${'['.repeat(d)}${']'.repeat(d)}}`),
          fc.integer({ min: 1_000, max: 64_000 }).map((n) => JSON.stringify({ type: 'agent_request', requestId: 'big', input: { text: 'x'.repeat(n) } })),
          fc.integer({ min: 65_537, max: 200_000 }).map((n) => JSON.stringify({ type: 'ping', id: 'y'.repeat(n) })),
          fc.integer({ min: 1, max: 60_000 }).map((n) => JSON.stringify({ type: 'ping', id: '\\u0000'.repeat(Math.floor(n / 6)) })),
        ),
        async (text) => {
          await probe(text, undefined);
        },
      ),
      { numRuns: 60, seed: 13 },
    );
  });

  it('after everything: the server is alive, Alice was never disturbed, and saw nothing of Mallory', async () => {
    const health = await fetch(`${server.url}/healthz`);
    if (health.status !== 200) tally.crashes++;
    expect(health.status).toBe(200);
    aliceSocket.send({ type: 'ping', id: 'alice-still-here' });
    await aliceSocket.waitFor((f) => f.type === 'pong' && f.id === 'alice-still-here');
    expect(aliceSocket.closeCode).toBeUndefined();
    for (const runId of malloryRuns) expect(JSON.stringify(aliceSocket.frames)).not.toContain(runId);
    expect(tally.leaks).toBe(0);
  });
});
}
