// Arbitrary HTTP requests from a hostile user (Mallory): every route (and made-up ones), every
// method, query strings, bodies of random JSON, text and bytes (strings with NUL and lone UTF-16
// surrogates among them), with Mallory's token, a garbage one or none. Each answer is a known
// status with `{error: {code, message}}` (a section 5 code or one of the HTTP-only codes) for
// refusals, never `internal` or a 5xx; the server never crashes; and nothing carries Alice's ids
// (unless the request named them) or text. `POST /v1/auth/logout` is left out: it would revoke
// Mallory's token for the rest of the run (tests/attack/jwt.test.ts attacks it).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/protocol/errors.js';
import { primaryBackend } from '../helpers/backends.js';
import type { TestServer, TestUser } from '../helpers/server.js';
import { hostileString, hostileUnit, isServerFailure, leakIn, ready, type Secrets } from './support.js';

const STATUSES = new Set([200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 429]);
const tally = { inputs: 0, crashes: 0, leaks: 0, failures: 0, statuses: {} as Record<number, number>, codes: {} as Record<string, number> };

export function describeHttpFuzzing(getServer: () => TestServer): void {
describe(`HTTP fuzzing on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;
  let mallory: TestUser;
  const secrets: Secrets = { ids: [], texts: [] };

  beforeAll(async () => {
    server = getServer();
    [alice, mallory] = await Promise.all([server.register(), server.register()]);
    const a = await server.connect(alice.token);
    await ready(a);
    const text = `alice-http-secret-${Math.random().toString(36).slice(2)}`;
    const acc = await a.request(text, { agent: 'echo' });
    await a.runEvents(acc.runId as string);
    await a.close();
    secrets.ids.push(alice.userId, acc.runId as string, acc.threadId as string);
    secrets.texts.push(text, alice.token, alice.password);
  });
  afterAll(async () => {
     
    console.log(`attack/http: inputs ${tally.inputs}, crashes ${tally.crashes}, leaks ${tally.leaks}, internal/5xx ${tally.failures}; statuses ${JSON.stringify(tally.statuses)}; codes ${JSON.stringify(tally.codes)}`);
  });

  /** Sends one request and checks its answer: a known status, never a 5xx or `internal`, a protocol error body, no leak. */
  async function probe(m: string, p: string, q: string, b: string | Buffer<ArrayBuffer> | undefined, who: 'mallory' | 'garbage' | 'none', ct: string): Promise<void> {
    tally.inputs++;
    const headers: Record<string, string> = {};
    if (who === 'mallory') headers.authorization = `Bearer ${mallory.token}`;
    if (who === 'garbage') headers.authorization = 'Bearer eyJhbGciOiJub25lIn0.e30.';
    if (ct) headers['content-type'] = ct;
    const withBody = b !== undefined && !['GET', 'HEAD', 'OPTIONS'].includes(m);
    const res = await fetch(`${server.url}${p}${q}`, { method: m, headers, ...(withBody ? { body: b } : {}) });
    const text = await res.text();
    tally.statuses[res.status] = (tally.statuses[res.status] ?? 0) + 1;
    const code = res.status >= 400 && m !== 'HEAD' ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
    if (code) tally.codes[code] = (tally.codes[code] ?? 0) + 1;
    if (isServerFailure(code, res.status)) tally.failures++;
    expect(isServerFailure(code, res.status), `${res.status} ${code} for ${m} ${p}${q}: ${text.slice(0, 200)}`).toBe(false);
    expect(STATUSES.has(res.status), `status ${res.status} for ${m} ${p}${q}: ${text.slice(0, 200)}`).toBe(true);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    if (res.status >= 400 && m !== 'HEAD') {
      const parsed = JSON.parse(text) as { error: { code: string; message: string } };
      expect(ERROR_CODES).toContain(parsed.error.code);
      expect(parsed.error.message).not.toMatch(/\bat \w+ \(|node_modules|SELECT|INSERT|postgres|pglite|TypeError|ReferenceError/i);
    }
    const echoed = `${p}${q} ${typeof b === 'string' ? b : b ? b.toString('latin1') : ''}`;
    const leak = leakIn(text, secrets, [echoed]);
    if (leak) tally.leaks++;
    expect(leak, `leak of ${leak} in answer to ${m} ${p}${q}`).toBeUndefined();
  }

  it('random requests to every route are answered with a protocol status and error body, and leak nothing', async () => {
    const id = fc.oneof(fc.constantFrom(...secrets.ids, 'not-a-uuid', '%ZZ', '..', '%2e%2e', crypto.randomUUID()), fc.webSegment());
    // Mostly the right method for the route (so the request reaches its handler), sometimes any.
    const route = fc.oneof(
      fc.constant(['GET', '/v1/threads'] as const),
      id.map((x) => ['GET', `/v1/threads/${x}`] as const),
      id.map((x) => ['GET', `/v1/runs/${x}/events`] as const),
      fc.constantFrom('/v1/auth/login', '/v1/auth/register', '/v1/auth/ws-ticket', '/v1/auth/password', '/v1/usage').map((x) => ['POST', x] as const),
      fc.constantFrom('/healthz', '/readyz', '/metrics', '/v1/ws').map((x) => ['GET', x] as const),
      fc.webPath().map((x) => ['GET', x] as const),
      // The SSE front-ends (docs/front-ends.md).
      fc.constantFrom('/v1/ai-sdk/chat', '/v1/ag-ui', '/v1/ag-ui/echo', '/v1/ag-ui/no-such-agent').map((x) => ['POST', x] as const),
      id.map((x) => ['GET', `/v1/ai-sdk/chat/${x}/stream`] as const),
      id.map((x) => ['POST', `/v1/ai-sdk/chat/${x}/stop`] as const),
    );
    const query = fc.oneof(
      fc.constant(''),
      fc.tuple(fc.constantFrom('after', 'limit', 'cursor', 'ticket', 'x', 'runId', 'afterSeq'), fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String), fc.constantFrom('-1', '1e9', 'NaN', ...secrets.ids))).map(
        ([k, v]) => `?${k}=${encodeURIComponent(v)}`,
      ),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 3 }),
      fc.record({ username: fc.string({ maxLength: 70 }), password: fc.string({ maxLength: 300 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.record({ currentPassword: fc.string({ maxLength: 30 }), newPassword: fc.string({ maxLength: 30 }), userId: fc.constantFrom(...secrets.ids) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.string({ maxLength: 300 }),
      // Nearly what the front-ends take: a chat body, a RunAgentInput (join included).
      fc
        .record({ id: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...secrets.ids)), role: fc.constantFrom('user', 'assistant', 'tool'), text: fc.string({ maxLength: 20 }), agent: fc.constantFrom('echo', 'nope', undefined) })
        .map((o) => JSON.stringify({ id: o.id, messages: [{ id: 'm', role: o.role, parts: [{ type: 'text', text: o.text }] }], ...(o.agent ? { agent: o.agent } : {}) })),
      fc
        .record({ threadId: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...secrets.ids)), runId: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...secrets.ids)), afterSeq: fc.option(fc.integer({ min: -2, max: 5 })), text: fc.string({ maxLength: 20 }) })
        .map((o) => JSON.stringify({ threadId: o.threadId, runId: o.runId, messages: [{ id: 'u', role: 'user', content: o.text }], tools: [], context: [], forwardedProps: o.afterSeq === null ? {} : { agentwire: { join: { afterSeq: o.afterSeq } } } })),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 1, max: 30 }).map((d) => `${'{"a":'.repeat(d * 100)}1${'}'.repeat(d * 100)}`),
    );
    const auth = fc.constantFrom<'mallory' | 'garbage' | 'none'>('mallory', 'garbage', 'none');
    const contentType = fc.constantFrom('application/json', 'text/csv', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '');
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

    await fc.assert(
      fc.asyncProperty(route, fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: method, weight: 1 }), query, body, auth, contentType, async ([routeMethod, p], anyMethod, q, b, who, ct) => {
        await probe(anyMethod ?? routeMethod, p, q, b, who, ct);
      }),
      { numRuns: 1000, seed: 20 },
    );
    const health = await fetch(`${server.url}/healthz`);
    if (health.status !== 200) tally.crashes++;
    expect(health.status).toBe(200);
    // Mallory's token still works: nothing in the fuzz revoked or broke it.
    expect((await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${mallory.token}` } })).status).toBe(200);
    expect(tally.leaks).toBe(0);
  });

  it('bodies holding NUL and lone surrogates, to every route that stores text, are refused or accepted, never a 5xx', async () => {
    const label = hostileString(20);
    const row = fc.record({ day: fc.constant('2025-01-02'), feature: label, model: label, requests: fc.nat(9), inputTokens: fc.nat(9), outputTokens: fc.nat(9) });
    const request = fc.oneof(
      fc.record({ username: hostileString(70), password: hostileString(300) }, { requiredKeys: [] }).map((o) => ['/v1/auth/register', JSON.stringify(o), 'application/json'] as const),
      fc.record({ username: hostileString(70), password: hostileString(300) }, { requiredKeys: [] }).map((o) => ['/v1/auth/login', JSON.stringify(o), 'application/json'] as const),
      fc.record({ currentPassword: hostileString(30), newPassword: hostileString(30) }, { requiredKeys: [] }).map((o) => ['/v1/auth/password', JSON.stringify(o), 'application/json'] as const),
      fc.array(row, { minLength: 1, maxLength: 3 }).map((r) => ['/v1/usage', JSON.stringify(r), 'application/json'] as const),
      fc.array(row, { minLength: 1, maxLength: 3 }).map((r) => ['/v1/usage', JSON.stringify({ records: r }), 'application/json'] as const),
      fc.array(row, { minLength: 1, maxLength: 3 }).map(
        (r) => ['/v1/usage', `day,feature,model,requests,inputTokens,outputTokens\n${r.map((x) => [x.day, x.feature, x.model, x.requests, x.inputTokens, x.outputTokens].join(',')).join('\n')}`, 'text/csv'] as const,
      ),
      fc.json({ maxDepth: 3, stringUnit: hostileUnit }).chain((j) => fc.constantFrom('/v1/auth/register', '/v1/auth/login', '/v1/auth/password', '/v1/usage', '/v1/ai-sdk/chat', '/v1/ag-ui').map((p) => [p, j, 'application/json'] as const)),
      fc.record({ id: hostileString(20), text: hostileString(40) }).map((o) => ['/v1/ai-sdk/chat', JSON.stringify({ id: o.id, messages: [{ id: 'm', role: 'user', parts: [{ type: 'text', text: o.text }] }], agent: 'echo' }), 'application/json'] as const),
      fc.record({ threadId: hostileString(20), runId: hostileString(20), text: hostileString(40) }).map((o) => ['/v1/ag-ui/echo', JSON.stringify({ threadId: o.threadId, runId: o.runId, messages: [{ id: 'u', role: 'user', content: o.text }] }), 'application/json'] as const),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([p, b, ct]) => {
        await probe('POST', p, '', b, 'mallory', ct);
      }),
      { numRuns: 400, seed: 21 },
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
}
