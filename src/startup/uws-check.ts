// Before anything listens: does this Node, on this platform, get a native uWebSockets.js?
// The npm build agentwire depends on falls back, with one warning, to a JavaScript stand-in that
// prints "listening" and then dies at the first request ("Not implemented at
// HttpResponse.getRemoteAddressAsText"). So `npm start` asks first, and stops with one line that
// says what is supported and what to do. README, "Node versions", says which build needs what.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The least Node agentwire itself runs on (package.json `engines`). */
export const MIN_NODE = { major: 20, minor: 19 } as const;

/** Node's module ABI (`process.versions.modules`) → its major version, for the releases uWS builds exist for. */
const ABI_NODE: Readonly<Record<string, number>> = { '93': 16, '108': 18, '115': 20, '120': 21, '127': 22, '131': 23, '137': 24, '141': 25 };

export interface UwsTarget {
  /** `process.version` without the v, e.g. 22.12.0. */
  node: string;
  /** `process.versions.modules`, e.g. 127. */
  abi: string;
  platform: string;
  arch: string;
}

export type UwsVerdict = { ok: true; binary: string } | { ok: false; message: string };

const WHAT_TO_DO = 'use Node 20 (20.19 or later), or for Node 22 and later point the uWebSockets.js alias at the official build (needs glibc 2.38): README, "Node versions"';

const list = (xs: string[]) => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);

/**
 * Pure: whether `binaries` (file names such as `uws_linux_x64_115.node`) hold a build for
 * `target`, and if not, the one line to print.
 */
export function uwsVerdict(target: UwsTarget, binaries: readonly string[]): UwsVerdict {
  const [major = 0, minor = 0] = target.node.split('.').map(Number);
  if (major < MIN_NODE.major || (major === MIN_NODE.major && minor < MIN_NODE.minor)) {
    return { ok: false, message: `agentwire needs Node ${MIN_NODE.major}.${MIN_NODE.minor} or later; this is Node ${target.node}: ${WHAT_TO_DO}` };
  }
  const wanted = `uws_${target.platform}_${target.arch}_${target.abi}.node`;
  if (binaries.includes(wanted)) return { ok: true, binary: wanted };
  const builds = binaries.map((b) => /^uws_([a-z0-9]+)_([a-z0-9]+)_(\d+)\.node$/.exec(b)).filter((m): m is RegExpExecArray => m !== null);
  const here = builds.filter((m) => m[1] === target.platform && m[2] === target.arch).map((m) => m[3]!);
  const abis = [...new Set(here)].sort((a, b) => Number(a) - Number(b));
  if (abis.length === 0) {
    const platforms = [...new Set(builds.map((m) => `${m[1]}-${m[2]}`))].sort();
    return {
      ok: false,
      message: `uWebSockets.js has no native build for ${target.platform}-${target.arch}; the installed build has ${platforms.length ? list(platforms) : 'no native binary at all'}: run agentwire on one of those (Linux with glibc, macOS or Windows on x64 or arm64), or build uWebSockets.js for this platform yourself`,
    };
  }
  const versions = list(abis.map((a) => (ABI_NODE[a] !== undefined ? String(ABI_NODE[a]) : `ABI ${a}`)));
  return {
    ok: false,
    message: `uWebSockets.js has no native build for Node ${target.node} (ABI ${target.abi}) on ${target.platform}-${target.arch}; the installed build has Node ${versions} there: ${WHAT_TO_DO}`,
  };
}

/** The `uws_*.node` files of the installed uWebSockets.js, and the folders they are in. */
export function installedUwsBinaries(): { dirs: string[]; files: Map<string, string> } {
  const main = createRequire(import.meta.url).resolve('uWebSockets.js');
  // The npm build keeps them in ../binaries beside src/uws.js; the official build beside uws.js.
  const dirs = [dirname(main), join(dirname(main), '..', 'binaries')];
  const files = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (/^uws_.+\.node$/.test(n) && !files.has(n)) files.set(n, join(dir, n));
  }
  return { dirs, files };
}

/**
 * The real check: the binary for this process exists and loads (a build linked against a newer
 * glibc exists but does not load). Loading it here is free: uws.js then gets the same module.
 */
export function checkUws(target: UwsTarget = currentTarget()): UwsVerdict {
  const { files } = installedUwsBinaries();
  const verdict = uwsVerdict(target, [...files.keys()]);
  if (!verdict.ok) return verdict;
  try {
    createRequire(import.meta.url)(files.get(verdict.binary)!);
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { ok: false, message: `uWebSockets.js's native build ${verdict.binary} does not load here (${why}): ${WHAT_TO_DO}` };
  }
  return verdict;
}

export function currentTarget(): UwsTarget {
  return { node: process.versions.node, abi: process.versions.modules, platform: process.platform, arch: process.arch };
}

/** For entry points: prints the one line and exits 1 when there is no native uWebSockets.js. */
export function exitUnlessNativeUws(): void {
  const verdict = checkUws();
  if (verdict.ok) return;
  process.stderr.write(`agentwire: ${verdict.message}\n`);
  process.exit(1);
}
