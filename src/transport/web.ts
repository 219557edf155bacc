// The chat page at `/`: web/index.html, web/app.css and web/app.ts's bundle, prebuilt by
// `npm run build` (./pages.ts; bundled on first request in a source checkout), read once and kept.
// Everything is same-origin; the Content-Security-Policy allows nothing else.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../log/logger.js';
import { loadPage, PAGES } from './pages.js';
import { router } from './route.js';

const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

type Asset = { body: string; type: string };
let assets: Promise<Map<string, Asset>> | undefined;

async function build(): Promise<Map<string, Asset>> {
  const page = await loadPage(PAGES.web);
  return new Map([
    ['/', { body: page.get('index.html')!, type: 'text/html; charset=utf-8' }],
    ['/app.js', { body: page.get('app.js')!, type: 'text/javascript; charset=utf-8' }],
    ['/app.css', { body: page.get('app.css')!, type: 'text/css; charset=utf-8' }],
  ]);
}

/**
 * The page is told which origins may open sockets: a browser hides why an upgrade was refused,
 * so without this a page on another address (behind a proxy, a LAN name) would only ever show
 * "Reconnecting…". With it, the page says what is wrong and what to set (ALLOWED_ORIGINS).
 */
const ORIGINS_META = '<meta name="agentwire-allowed-origins" content="">';
const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function registerWebApp(app: TemplatedApp, log: Logger, allowedOrigins?: () => readonly string[]): void {
  const route = router({ log });
  for (const path of ['/', '/app.js', '/app.css']) {
    app.get(
      path,
      route({}, async (_req, res) => {
        assets ??= build().catch((err: unknown) => {
          // Built again on the next request; this one is answered `internal`, the log has why.
          assets = undefined;
          throw err;
        });
        const a = (await assets).get(path)!;
        const body = path === '/' && allowedOrigins ? a.body.replace(ORIGINS_META, ORIGINS_META.replace('content=""', `content="${escapeAttr(allowedOrigins().join(' '))}"`)) : a.body;
        res.send(200, body, a.type, [['Content-Security-Policy', CSP]]);
      }),
    );
  }
}
