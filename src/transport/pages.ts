// The two pages agentwire serves, the chat page (web/) and the statechart visualizer (debug/):
// which files each has, and how its script is bundled. `npm run build` bundles them into
// dist/web and dist/debug (scripts/build.ts); a server running from dist serves those files. From
// a source checkout (npm run dev, the tests) there is nothing prebuilt, and the page's script is
// bundled with esbuild, a dev dependency, on its first request.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PageSpec {
  /** The folder, beside src/ (and in dist/, beside dist/src/). */
  dir: 'web' | 'debug';
  /** Bundles: output name → entry source. */
  entries: Readonly<Record<string, string>>;
  /** Files served as they are. */
  files: readonly string[];
}

export const PAGES = {
  web: { dir: 'web', entries: { app: 'app.ts' }, files: ['index.html', 'app.css'] },
  // elkjs is bundled in: the page loads nothing from anywhere but this server.
  debug: { dir: 'debug', entries: { app: 'app.ts', login: 'login.ts' }, files: ['index.html', 'login.html', 'forbidden.html', 'app.css'] },
} as const satisfies Record<string, PageSpec>;

/** The same bundle whether built ahead or on first request. */
export const BUNDLE_OPTIONS = { bundle: true, format: 'esm', target: 'es2022', minify: true, logLevel: 'silent' } as const;

/** The package's root: the repository, or dist/ for the compiled server (this file is src/transport/pages.ts either way). */
const ROOT = join(import.meta.dirname, '..', '..');

export const pageDir = (spec: PageSpec) => join(ROOT, spec.dir);

const exists = (path: string) => access(path).then(() => true, () => false);

/** A page's files by name (`app.js`, `index.html` …): prebuilt if there are, else bundled now. */
export async function loadPage(spec: PageSpec): Promise<Map<string, string>> {
  const dir = pageDir(spec);
  const names = Object.keys(spec.entries).map((n) => `${n}.js`);
  const files = new Map<string, string>();
  if ((await Promise.all(names.map((n) => exists(join(dir, n))))).every(Boolean)) {
    for (const n of names) files.set(n, await readFile(join(dir, n), 'utf8'));
  } else {
    // Only a source checkout gets here: esbuild is a dev dependency, loaded when first needed.
    const { build } = await import('esbuild');
    const result = await build({
      ...BUNDLE_OPTIONS,
      entryPoints: Object.fromEntries(Object.entries(spec.entries).map(([n, src]) => [n, join(dir, src)])),
      write: false,
      outdir: '/',
    });
    for (const n of names) files.set(n, result.outputFiles.find((f) => f.path.endsWith(`/${n}`))?.text ?? '');
  }
  for (const f of spec.files) files.set(f, await readFile(join(dir, f), 'utf8'));
  return files;
}
