// The embedded data directory's lock, in one process: held, refused while its holder lives,
// taken over when the holder is gone (dead pid, or a pid now used by another process; on another
// host, a lock no longer refreshed), released.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLocked, LOCK_FILE, STALE_MS, lockDataDir } from '../../../src/config/data-dir-lock.js';

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

const here = hostname();
const since = '2026-01-01T00:00:00.000Z';

/** The DataDirLocked a lock attempt throws (fails the test if it does not throw one). */
function refusal(d: string): DataDirLocked {
  try {
    lockDataDir(d)();
  } catch (err) {
    if (err instanceof DataDirLocked) return err;
    throw err;
  }
  throw new Error('the lock was taken');
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
    const theirs = `${JSON.stringify({ pid: process.ppid, host: here, since })}\n`;
    writeFileSync(join(d, LOCK_FILE), theirs);
    const thrown = refusal(d);
    expect(thrown.holder.pid).toBe(process.ppid);
    expect(thrown.message).toContain(`is in use by process ${process.ppid} on ${here}`);
    expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(theirs);
  });

  it('takes over a lock whose process is gone', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: here, since }));
    const release = lockDataDir(d);
    expect(lockOf(d).pid).toBe(process.pid);
    release();
  });

  it.runIf(existsSync('/proc/self/stat'))('takes over a lock whose pid now belongs to another process started at another time (needs Linux /proc)', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: here, since, procStart: 1 }));
    const release = lockDataDir(d);
    expect(lockOf(d)).toMatchObject({ pid: process.pid });
    expect(lockOf(d).procStart).toBeGreaterThan(1);
    release();
  });

  it('on another host, refuses a lock refreshed lately and takes over one left alone for STALE_MS', () => {
    const d = dir();
    const path = join(d, LOCK_FILE);
    // A pid that is dead here says nothing about the other host's process.
    writeFileSync(path, JSON.stringify({ pid: deadPid(), host: 'other-container', since }));
    expect(refusal(d).message).toContain('on other-container');
    const old = new Date(Date.now() - STALE_MS - 1_000);
    utimesSync(path, old, old);
    lockDataDir(d)();
  });

  it('takes over a lock that is not one (unreadable content)', () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE), 'garbage');
    lockDataDir(d)();
  });
});
