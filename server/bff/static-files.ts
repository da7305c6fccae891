/**
 * Serves the built SPA from web/dist: files by path (no traversal), index.html for client-side
 * routes, long caching for hashed assets, and security headers (CSP, no framing, no sniffing).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * Whether a request for a path that is no file may be a browser opening a page of the console (its
 * routes live in the page: index.html answers them). A client of the hub's API — a SAS or bearer
 * token in Authorization, or an Accept that takes JSON and not HTML — gets the hub's JSON 404 instead.
 */
function wantsPage(req: IncomingMessage): boolean {
  // A SAS token (or a bearer token) is a program's; Basic or other schemes may be a proxy's in front
  // of the console, on every page a browser opens.
  if (/^\s*(SharedAccessSignature|Bearer)\s/i.test(req.headers.authorization ?? '')) return false;
  const accept = req.headers.accept;
  return accept === undefined || /\btext\/html\b|\*\/\*/.test(accept);
}

/** Serves the console's files; false (nothing written) for a path that is neither a file nor a page. */
export function createStaticHandler(webRoot: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const root = resolve(webRoot);
  return (req, res) => {
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('Bad request: the path is not valid URL encoding.\n');
      return true;
    }
    let file = normalize(join(root, path));
    if (!file.startsWith(root + sep) && file !== root) {
      res.writeHead(400).end();
      return true;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) {
      if (!wantsPage(req)) return false;
      file = join(root, 'index.html');
    }
    if (!existsSync(file)) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('The console has not been built yet: run "npm run build" in the repository (npm start does it for you).\n');
      return true;
    }
    const hashed = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
    return true;
  };
}
