// `npm run build` (and `prepare`, so `npm install` builds a fresh clone): dist/ holds what the
// package runs, compiled JavaScript with declarations and the two pages bundled, so production
// runs `node dist/src/main.js` with neither tsx nor esbuild installed.
//   dist/src, dist/machines, dist/client   tsc -p tsconfig.build.json
//   dist/web, dist/debug                    the chat page and the visualizer (src/transport/pages.ts)
//   dist/src/store/migrations               the schema migrations (.sql, read by src/store/migrations.ts)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, PAGES } from '../src/transport/pages.js';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const started = Date.now();

// A clean slate: a file deleted from the sources must not live on in dist/.
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const migrationsDir = join(root, 'src', 'store', 'migrations');
mkdirSync(join(dist, 'src', 'store', 'migrations'), { recursive: true });
for (const f of readdirSync(migrationsDir).filter((n) => n.endsWith('.sql'))) copyFileSync(join(migrationsDir, f), join(dist, 'src', 'store', 'migrations', f));

for (const spec of Object.values(PAGES)) {
  const out = join(dist, spec.dir);
  mkdirSync(out, { recursive: true });
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: Object.fromEntries(Object.entries(spec.entries).map(([n, src]) => [n, join(root, spec.dir, src)])),
    outdir: out,
    logLevel: 'warning',
  });
  for (const f of spec.files) copyFileSync(join(root, spec.dir, f), join(out, f));
}
// The bin's file must be executable for a package manager that links it as it is.
execFileSync('chmod', ['+x', join(dist, 'src', 'main.js')]);
console.log(`dist/ built in ${Date.now() - started} ms`);
