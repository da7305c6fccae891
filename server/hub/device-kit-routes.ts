/**
 * What a device downloads to install itself, without credentials (none of it is secret):
 *   GET /install.sh             the install script, with this hub's address and kit version filled in
 *   GET /ca.pem                 the hub's local CA certificate (checked by its fingerprint before use)
 *   GET /device-kit/FILE        the kit tarball, its .sha256 and kit.json, as `npm run build:device` made them
 * The kit is looked for in DATA-DIR/device-kit, then in this checkout's dist/device-kit. Each client
 * address gets a bucket of downloads (a burst, then one a second): an install takes five.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { DsError, ErrorCode } from '../../shared/errors.js';
import type { Router } from '../http/router.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const INSTALL_SCRIPT = join(REPO, 'device', 'kit', 'install.sh');

export interface DeviceKitOptions {
  /** Directories searched for kit.json, in order. */
  kitDirs: string[];
  /** The hub's address as devices reach it (filled into install.sh). */
  publicUrl: string;
  /** The hub's local CA file; undefined when its certificate is not from a local CA. */
  caFile: string | undefined;
  /** Downloads one address may make at once, and refilled per second. */
  burst?: number;
  perSecond?: number;
}

/** What kit.json says about the built kits: one tarball per architecture. */
interface KitInfo {
  dir: string;
  version: string;
  /** Tarball name → its SHA-256. */
  tarballs: Map<string, string>;
}

/** The first kit found, or undefined when none was built. */
function findKit(dirs: readonly string[]): KitInfo | undefined {
  for (const dir of dirs) {
    const stamp = join(dir, 'kit.json');
    if (!existsSync(stamp)) continue;
    const k = JSON.parse(readFileSync(stamp, 'utf8')) as { version?: unknown; kits?: Record<string, { file?: unknown; sha256?: unknown }> };
    const tarballs = new Map<string, string>();
    for (const t of Object.values(k.kits ?? {})) {
      if (typeof t.file === 'string' && typeof t.sha256 === 'string' && existsSync(join(dir, t.file))) tarballs.set(t.file, t.sha256);
    }
    if (typeof k.version === 'string' && tarballs.size > 0) return { dir, version: k.version, tarballs };
  }
  return undefined;
}

/** Per-address token buckets, bounded: past `max` addresses the oldest is forgotten. */
class DownloadLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly burst: number, readonly perSecond: number, readonly max = 10_000) {}

  take(address: string): void {
    const now = Date.now();
    const b = this.#buckets.get(address) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.#buckets.delete(address);
    this.#buckets.set(address, b);
    if (this.#buckets.size > this.max) this.#buckets.delete(this.#buckets.keys().next().value as string);
    if (b.tokens < 1) {
      throw new DsError(ErrorCode.ThrottledDownload, `too many downloads from ${address}; retry shortly`, { retryAfterSeconds: (1 - b.tokens) / this.perSecond });
    }
    b.tokens -= 1;
  }
}

function sendText(res: ServerResponse, status: number, text: string, type: string, headers: Record<string, string> = {}, head = false): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache', ...headers });
  res.end(head ? undefined : text);
}

const NOT_BUILT = 'this hub has no device kit: run "npm run build:device" in its checkout (npm start builds it by itself), then try again\n';

/** Adds the routes; downloads are counted per client address. */
export function addDeviceKitRoutes(router: Router, o: DeviceKitOptions): void {
  const limiter = new DownloadLimiter(o.burst ?? 60, o.perSecond ?? 1);
  const dirs = o.kitDirs;
  // Goes into the script inside single quotes: its origin has none (URL syntax), a path might.
  const hubUrl = new URL(o.publicUrl).origin;
  const limit = (req: { socket: { remoteAddress?: string | undefined } }): void => limiter.take(req.socket.remoteAddress ?? '?');

  router.add('GET', '/install.sh', ({ req, res }) => {
    limit(req);
    const kit = findKit(dirs);
    // The script's defaults: the hub's URL (the operator's --public-url, parsed as a URL) and a
    // version; replaced by functions, so a `$` in them is not a replacement pattern.
    const script = readFileSync(INSTALL_SCRIPT, 'utf8')
      .replace('__DS_HUB_URL__', () => hubUrl)
      .replace('__DS_KIT_VERSION__', () => kit?.version ?? '');
    sendText(res, 200, script, 'text/x-shellscript; charset=utf-8', {}, req.method === 'HEAD');
  });

  router.add('GET', '/ca.pem', ({ req, res }) => {
    limit(req);
    if (o.caFile === undefined) throw new DsError(ErrorCode.NotFound, 'this hub has a publicly trusted certificate and no local CA to download');
    sendText(res, 200, readFileSync(o.caFile, 'utf8'), 'application/x-pem-file', {}, req.method === 'HEAD');
  });

  router.add('GET', '/device-kit/:file', ({ req, res, params }) => {
    limit(req);
    const kit = findKit(dirs);
    if (kit === undefined) return sendText(res, 404, NOT_BUILT, 'text/plain; charset=utf-8', {}, req.method === 'HEAD');
    const name = params.file as string;
    // Only the files kit.json names: never a path the client made up.
    const tarball = name.endsWith('.sha256') ? name.slice(0, -'.sha256'.length) : name;
    if (name !== 'kit.json' && !kit.tarballs.has(tarball)) {
      const served = [...kit.tarballs.keys()].join(', ');
      return sendText(res, 404, `no such file in the device kit: ${name.slice(0, 100)} (this hub serves version ${kit.version}: ${served}; a kit for another architecture: npm run build:device -- --arch all)\n`, 'text/plain; charset=utf-8', {}, req.method === 'HEAD');
    }
    const path = join(kit.dir, name);
    const type = name.endsWith('.tar.gz') ? 'application/gzip' : name.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8';
    res.writeHead(200, {
      'content-type': type,
      'content-length': statSync(path).size,
      'cache-control': 'no-cache',
      ...(kit.tarballs.has(name) ? { 'x-devicestreams-sha256': kit.tarballs.get(name) as string } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
}
