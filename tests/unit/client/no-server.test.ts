// `agentwire/client` runs in browsers and in Node without the server: bundled on its own, it
// reaches nothing but its own files and the protocol's dependency-free constants (no zod, no uWS,
// no node: modules).
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('agentwire/client', () => {
  it('depends on nothing of the server: its bundle holds only client/src and src/protocol/wire.ts', async () => {
    const result = await build({ entryPoints: [join(ROOT, 'client/src/index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs).sort();
    expect(inputs.filter((f) => !f.startsWith('client/src/') && f !== 'src/protocol/wire.ts')).toEqual([]);
    expect(inputs).toContain('src/protocol/wire.ts');
  });
});
