// Hundreds of sockets opened at once against a real server process, its stderr read (issue 14,
// item 10). Every upgrade is completed after an await (the credential check), which is where uWS
// prints "writes must be made from within a corked callback" for an uncorked upgrade, and where a
// corked one can be closed by uWS right after `open` (src/transport/upgrade.ts). Both endpoints
// take part: the API socket and the visualizer's feed socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, primaryBackend } from '../helpers/backends.js';
import { TestClient } from '../helpers/client.js';
import { register } from '../helpers/http.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

const API_SOCKETS = 300;
const FEED_SOCKETS = 30;

/** The first frame of `type`, or a failure naming the close code if the socket closes first. */
function first(c: TestClient, type: string): Promise<void> {
  return Promise.race([
    c.waitType(type).then(() => undefined),
    c.closed.then((code) => {
      throw new Error(`socket closed with ${code} before ${type}`);
    }),
  ]);
}

describe(`${API_SOCKETS + FEED_SOCKETS} sockets opened at once against a server process on ${primaryBackend}`, () => {
  let node: NodeProcess;
  let dataDir: string;
  let dropDb: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'agentwire-burst-'));
    const db = primaryBackend === 'postgres' ? await freshPostgresDatabase() : undefined;
    dropDb = db?.drop;
    node = await startNode({
      AGENTWIRE_DATA_DIR: dataDir,
      DATABASE_URL: db?.url ?? '',
      DEBUG_ENABLED: 'true',
      ADMIN_USERS: 'burst_user',
      MAX_SOCKETS_PER_USER: String(API_SOCKETS),
    });
    // A process on the embedded database takes long to start on a busy machine.
  }, 120_000);
  afterAll(async () => {
    if (node && node.child.exitCode === null) {
      node.kill('SIGKILL');
      await node.exited;
    }
    await dropDb?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every socket gets its first frame and stays open until the client closes it; stderr has no uWS warning', async () => {
    const creds = { username: 'burst_user', password: 'long enough password' };
    const { token } = await register(node.url, creds);

    const [api, feed] = await Promise.all([
      Promise.all(Array.from({ length: API_SOCKETS }, () => TestClient.open(node.wsUrl, { protocols: ['agentwire.v1', `bearer.${token}`] }))),
      Promise.all(
        // An admin's JWT, not the debug token: its check reads the database, so the upgrade is answered after an await.
        Array.from({ length: FEED_SOCKETS }, () => TestClient.open(node.wsUrl.replace('/v1/ws', '/debug/ws'), { headers: { authorization: `Bearer ${token}` } })),
      ),
    ]);
    await Promise.all([...api.map((c) => first(c, 'session_ready')), ...feed.map((c) => first(c, 'live'))]);

    // After the burst, each API socket still answers: a round trip on every one of them.
    await Promise.all(
      api.map(async (c, i) => {
        const from = c.frames.length;
        c.send({ type: 'ping', id: i });
        await Promise.race([
          c.waitFor((f) => f.type === 'pong' && f.id === i, from),
          c.closed.then((code) => {
            throw new Error(`socket closed with ${code} before its pong`);
          }),
        ]);
      }),
    );
    const all = [...api, ...feed];
    expect(all.filter((c) => c.closeCode !== undefined).map((c) => c.closeCode)).toEqual([]);

    // Closed by the client, each with the code it sent: none was torn down first.
    expect(new Set(await Promise.all(all.map((c) => c.close())))).toEqual(new Set([1005]));

    node.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    const stderr = node.stderr.join('');
    expect(stderr.match(/^.*(uWS|corked).*$/gm) ?? []).toEqual([]);
  });
});
