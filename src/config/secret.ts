// The JWT secret when none is configured: generated once, kept in the data directory (mode 0600),
// so tokens survive a restart of the embedded setup.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SECRET_FILE = 'jwt-secret';

export function loadOrCreateSecret(dataDir: string): { secret: string; created: boolean } {
  const path = join(dataDir, SECRET_FILE);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing.length >= 32) return { secret: existing, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  // Written whole to a private file, then linked into place: link fails if another process got
  // there first, and then its complete secret is read. Nobody ever reads a half-written file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return { secret, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readFileSync(path, 'utf8').trim(), created: false };
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}
