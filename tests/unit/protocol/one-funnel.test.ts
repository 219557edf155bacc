// Refusals are built in one place each, so they cannot drift apart (issue 14, item 9): the socket's
// `error` frame by `errorFrame` (protocol/errors.ts), an upgrade refusal by `refuseUpgrade`
// (transport/upgrade.ts), an HTTP answer by `writeAnswer` (transport/http.ts). This reads the
// sources for any other place that builds one.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Files under src/ whose code matches `pattern`, as paths relative to the repository. */
function filesMatching(pattern: RegExp): string[] {
  return sources(join(root, 'src'))
    .filter((f) => pattern.test(readFileSync(f, 'utf8')))
    .map((f) => relative(root, f))
    .sort();
}

describe('one funnel for refusals', () => {
  it('only errorFrame builds an error frame', () => {
    // src/frontends/ folds events into other protocols (the AI SDK's `error` chunk is not our frame).
    const builders = filesMatching(/type:\s*'error'\s*,/).filter((f) => !f.startsWith('src/frontends/'));
    expect(builders).toEqual(['src/protocol/errors.ts']);
  });

  it('only the upgrade module answers an upgrade, and only the HTTP helpers write a status line', () => {
    expect(filesMatching(/\.upgrade[<(]/)).toEqual(['src/transport/upgrade.ts']);
    expect(filesMatching(/\.writeStatus\(/)).toEqual(['src/transport/http.ts']);
  });
});
