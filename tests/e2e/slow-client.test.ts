// A socket that stops reading: the server stops writing to it when its buffer fills, keeps
// serving everyone else, and once the client reads again catches it up from the log, exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { floodAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PIECES = 400;
const SIZE = 8 * 1024; // 400 × 8 KiB ≈ 3.2 MiB: far beyond the 64 KiB socket buffer and the kernel's

describe(`slow client on ${primaryBackend}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [floodAgent(PIECES, SIZE)], env: { SOCKET_BUFFER_BYTES: String(64 * 1024) } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('pauses a socket that does not read, and catches it up from the log when it does', async () => {
    const u = await server.register();
    const slow = await server.connect(u.token);
    const fast = await server.connect(u.token);
    await Promise.all([slow.waitType('session_ready'), fast.waitType('session_ready')]);
    // Stop reading at the TCP level: the server's writes back up.
    const tcp = (slow.ws as unknown as { _socket: Socket })._socket;
    tcp.pause();

    const acc = await fast.request('flood', { agent: 'flood' });
    const runId = acc.runId as string;
    const fastEvents = await fast.runEvents(runId);
    expect(fastEvents).toHaveLength(PIECES + 2);
    // The slow socket got only part of the run so far (the rest waits in the log).
    expect(slow.eventsOf(runId).length).toBeLessThan(PIECES + 2);

    tcp.resume();
    const slowEvents = await slow.runEvents(runId);
    expect(slowEvents.map((e) => e.seq)).toEqual(fastEvents.map((e) => e.seq));
    expect(slowEvents).toEqual(fastEvents);
    expect(slow.closeCode).toBeUndefined();
  });
});
