// The embedded database belongs to one process at a time. PGlite keeps no lock of its own: two
// processes on one directory both start, and each overwrites what the other wrote. So the process
// that opens it writes its pid to `agentwire.lock` in the data directory; a second start reads the
// file and refuses while that process lives. A lock left by a process that died without releasing
// it (SIGKILL, a crash, a power cut) is taken over: on the same host liveness, not age, decides, so
// a restart right after a crash works and a live process that is merely slow keeps its lock.
// A pid means nothing on another host (another container sharing the volume has its own pids), so
// there the lock's age decides: the holder touches the file every HEARTBEAT_MS, and a lock from
// another host untouched for STALE_MS is taken over (a container re-created after a crash gets a
// new hostname and waits that long).
//
// Hand-written, not proper-lockfile: that library decides staleness by age (an mtime refreshed on
// a timer), so a restart after SIGKILL waits out the stale period, a blocked event loop can lose a
// live lock, and it keeps no pid to name the holder. Liveness of a pid is what this needs.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'agentwire.lock';
/** How often the holder touches its lock. */
export const HEARTBEAT_MS = 10_000;
/** A lock from another host untouched this long is taken over. */
export const STALE_MS = 30_000;

export interface LockHolder {
  pid: number;
  host: string;
  /** When it took the lock (ISO-8601). */
  since: string;
  /** Its start time in clock ticks after boot (Linux /proc), so a reused pid is not taken for it. */
  procStart?: number;
}

/** Another process holds the data directory. */
export class DataDirLocked extends Error {
  override name = 'DataDirLocked';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `data directory ${dataDir} is in use by process ${holder.pid} on ${holder.host} (since ${holder.since}); ` +
        (holder.host === hostname()
          ? 'stop that process, or set AGENTWIRE_DATA_DIR to another directory'
          : `stop it, or set AGENTWIRE_DATA_DIR to another directory; a lock from another host not refreshed for ${STALE_MS / 1000} s is taken over`),
    );
  }
}

/** Directories this process holds: a second runtime in the same process is refused too. */
const heldHere = new Set<string>();

/**
 * Takes the data directory for this process, or throws DataDirLocked naming the holder.
 * Returns the function that releases it.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const key = realpathSync(dataDir);
  const path = join(dataDir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), ...procStartOf(process.pid) };
  if (heldHere.has(key)) throw new DataDirLocked(dataDir, me);
  const body = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 10; attempt++) {
    // Written whole to a private file, then linked into place: the link fails if the lock exists,
    // and nobody ever reads a half-written lock.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, body, { flag: 'wx', mode: 0o644 });
    try {
      linkSync(tmp, path);
      heldHere.add(key);
      const heartbeat = setInterval(() => touch(path, body), HEARTBEAT_MS);
      heartbeat.unref();
      return () => {
        clearInterval(heartbeat);
        release(key, path, body);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
    const found = read(path);
    if (found === undefined) continue; // released meanwhile: try again
    const holder = parse(found);
    if (holder && alive(holder, path)) throw new DataDirLocked(dataDir, holder);
    breakStale(path, found);
  }
  throw new Error(`cannot lock ${dataDir}: ${LOCK_FILE} keeps changing (several processes starting at once?)`);
}

function release(key: string, path: string, body: string): void {
  heldHere.delete(key);
  // Only our own lock is removed, never one taken over after ours went stale by mistake.
  if (read(path) === body) unlinkSafe(path);
}

/**
 * Removes a lock whose holder is dead. Two processes may find the same dead holder at once, so
 * the file is moved aside and checked: if what was moved is no longer the dead holder's lock (the
 * other process already replaced it with its own), it is put back.
 */
function breakStale(path: string, stale: string): void {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if (read(aside) !== stale) linkSync(aside, path);
  } catch (err) {
    // EEXIST: yet another process locked it meanwhile; its lock stands.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSafe(aside);
  }
}

/** Keeps our lock fresh for other hosts; never touches a lock that is no longer ours. */
function touch(path: string, body: string): void {
  try {
    if (read(path) === body) {
      const now = new Date();
      utimesSync(path, now, now);
    }
  } catch {
    // A data directory that cannot be written will fail the database first, and say so.
  }
}

/**
 * Whether the holder still holds: on another host, whether it touched the lock lately; here,
 * whether its process runs (a pid of ours that we do not hold is a past life of ours).
 */
function alive(h: LockHolder, path: string): boolean {
  if (h.host !== hostname()) {
    try {
      return Date.now() - statSync(path).mtimeMs < STALE_MS;
    } catch {
      return false;
    }
  }
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = procStartOf(h.pid).procStart;
  // The pid exists; it is the holder unless we can tell it started at another time (pid reuse).
  return h.procStart === undefined || now === undefined || now === h.procStart;
}

function procStartOf(pid: number): { procStart?: number } {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? { procStart: start } : {};
  } catch {
    return {};
  }
}

function parse(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    return { pid: v.pid, host: String(v.host ?? '?'), since: String(v.since ?? '?'), ...(typeof v.procStart === 'number' ? { procStart: v.procStart } : {}) };
  } catch {
    // Not a lock this code wrote (a lock is linked into place whole): nobody holds it.
    return undefined;
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function unlinkSafe(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
