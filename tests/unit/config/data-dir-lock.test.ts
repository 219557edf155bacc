// The embedded data directory's lock, in one process: held, refused while its holder lives,
// taken over when the holder is gone (dead pid, or a pid now used by another process), released.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLocked, LOCK_FILE, lockDataDir } from '../../../src/config/data-dir-lock.js';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'agentwire-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A pid that no process has now: one that has just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

const lockOf = (d: string) => JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')) as { pid: number; procStart?: number };

describe('the data directory lock', () => {
  it('is held once per directory, refused to a second holder in the same process, and released', () => {
    const d = dir();
    const release = lockDataDir(d);
    expect(lockOf(d).pid).toBe(process.pid);
    expect(() => lockDataDir(d)).toThrow(DataDirLocked);
    release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    lockDataDir(d)();
  });

  it('names a live holder (here the parent process) and leaves its lock alone', () => {
    const d = dir();
    const theirs = `${JSON.stringify({ pid: process.ppid, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z' })}\n`;
    writeFileSync(join(d, LOCK_FILE), theirs);
    let thrown: unknown;
    try {
      lockDataDir(d);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DataDirLocked);
    expect((thrown as DataDirLocked).holder.pid).toBe(process.ppid);
    expect((thrown as Error).message).toContain(`is in use by process ${process.ppid} on elsewhere`);
    expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(theirs);
  });

  it('takes over a lock whose process is gone', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'here', since: '2026-01-01T00:00:00.000Z' }));
    const release = lockDataDir(d);
    expect(lockOf(d).pid).toBe(process.pid);
    release();
  });

  it.runIf(existsSync('/proc/self/stat'))('takes over a lock whose pid now belongs to another process started at another time (needs Linux /proc)', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: 'here', since: '2026-01-01T00:00:00.000Z', procStart: 1 }));
    const release = lockDataDir(d);
    expect(lockOf(d)).toMatchObject({ pid: process.pid });
    expect(lockOf(d).procStart).toBeGreaterThan(1);
    release();
  });

  it('takes over a lock that is not one (unreadable content)', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), 'garbage');
    lockDataDir(d)();
  });
});
