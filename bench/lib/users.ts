// Users for benchmarks. Hundreds are registered and logged in over HTTP (the real path, with the
// analyst's sample usage). Thousands would spend minutes in scrypt, so on PostgreSQL they are
// inserted in one statement and given tokens signed with the server's JWT_SECRET, exactly as
// the server's own login would sign them.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import pg from 'pg';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/auth/tokens.js';
import { insertUsage } from '../../src/store/usage.js';
import { sampleUsage } from '../../src/usage/sample.js';

export const BENCH_SECRET = 'benchmark-secret-benchmark-secret-0123456789';

export async function registerUsers(url: string, n: number, parallel = 4): Promise<string[]> {
  const tokens: string[] = new Array<string>(n);
  let next = 0;
  const tag = randomUUID().slice(0, 8);
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        const creds = JSON.stringify({ username: `bench-${tag}-${i}`, password: 'benchmark password' });
        const reg = await fetch(`${url}/v1/auth/register`, { method: 'POST', body: creds, headers: { 'content-type': 'application/json' } });
        if (reg.status !== 201) throw new Error(`register answered ${reg.status}: ${await reg.text()}`);
        const login = await fetch(`${url}/v1/auth/login`, { method: 'POST', body: creds, headers: { 'content-type': 'application/json' } });
        tokens[i] = ((await login.json()) as { token: string }).token;
      }
    }),
  );
  return tokens;
}

/** `n` users inserted in one statement, with tokens signed as the server's login would; with `usage`, each gets the analyst's sample usage records, as its sign-up hook gives them. */
export async function seedUsers(databaseUrl: string, n: number, o: { usage?: boolean } = {}): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tag = randomUUID().slice(0, 8);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO users (id, username, password_hash)
       SELECT gen_random_uuid(), 'seed-' || $1 || '-' || g, 'scrypt$seeded-without-password' FROM generate_series(1, $2::int) g
       RETURNING id`,
      [tag, n],
    );
    if (o.usage) {
      const q = { query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[] };
      for (const r of rows) await insertUsage(q, r.id, sampleUsage(r.id, new Date()), 'sample');
    }
    const key = new TextEncoder().encode(BENCH_SECRET);
    const iat = Math.floor(Date.now() / 1000) - 5;
    return Promise.all(
      rows.map((r) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(r.id)
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setIssuedAt(iat)
          .setExpirationTime(iat + 6 * 3600)
          .sign(key),
      ),
    );
  } finally {
    await client.end();
  }
}

/** A fresh, empty database on the benchmark's PostgreSQL, dropped by the returned function. */
export async function freshDatabase(adminUrl: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  return { url: adminUrl.replace(/\/[^/]*$/, `/${name}`), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function countRows(databaseUrl: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(sql);
    return Number(rows[0]?.n ?? NaN);
  } finally {
    await c.end();
  }
}
