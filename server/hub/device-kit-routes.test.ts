/**
 * The download routes over real HTTP (port 0, in this process): a clear 404 before the kit is built,
 * only the files kit.json names, the SHA-256 header, and the per-address limit.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { sendError } from '../http/respond.js';
import { Router } from '../http/router.js';
import { addDeviceKitRoutes } from './device-kit-routes.js';

const dirs: string[] = [];
const servers: Server[] = [];
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

async function serve(o: { kitDir: string; caFile?: string; burst?: number }): Promise<string> {
  const router = new Router();
  addDeviceKitRoutes(router, { kitDirs: [o.kitDir], publicUrl: 'https://hub.example.com:8443', caFile: o.caFile, burst: o.burst ?? 60, perSecond: 1 });
  const server = createServer((req, res) => {
    try {
      const m = router.match(req.method ?? 'GET', req.url ?? '/');
      if (m === undefined) throw new DsError(ErrorCode.NotFound, 'no route');
      Promise.resolve(m.handler({ req, res, params: m.params, query: m.query })).catch((err: unknown) => sendError(res, err, () => undefined));
    } catch (err) {
      sendError(res, err, () => undefined);
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ds-kit-routes-'));
  dirs.push(d);
  return d;
}

/** A kit directory as build:device leaves it, with a small stand-in tarball. */
function fakeKit(): { dir: string; file: string; sha256: string } {
  const d = dir();
  const file = 'devicestreams-device-9.9.9-linux-x64.tar.gz';
  writeFileSync(join(d, file), 'tarball bytes');
  const sha256 = 'f'.repeat(64);
  writeFileSync(join(d, `${file}.sha256`), `${sha256}  ${file}\n`);
  const arm = 'devicestreams-device-9.9.9-linux-arm64.tar.gz';
  writeFileSync(join(d, arm), 'arm64 tarball bytes');
  writeFileSync(join(d, `${arm}.sha256`), `${'e'.repeat(64)}  ${arm}\n`);
  writeFileSync(join(d, 'kit.json'), JSON.stringify({ version: '9.9.9', arch: 'x64', file, sha256, kits: { x64: { arch: 'x64', file, sha256 }, arm64: { arch: 'arm64', file: arm, sha256: 'e'.repeat(64) } } }));
  writeFileSync(join(d, 'secret.txt'), 'not for download');
  return { dir: d, file, sha256 };
}

let empty: string;
let kit: ReturnType<typeof fakeKit>;
let withKit: string;

beforeAll(async () => {
  empty = await serve({ kitDir: dir() });
  kit = fakeKit();
  const caFile = join(kit.dir, 'ca.pem');
  writeFileSync(caFile, CA);
  withKit = await serve({ kitDir: kit.dir, caFile });
});

afterAll(() => {
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('device kit routes', () => {
  it('say how to build the kit when there is none, and still serve the script (which then says the same)', async () => {
    const r = await fetch(`${empty}/device-kit/devicestreams-device-0.1.0-linux-x64.tar.gz`);
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/this hub has no device kit: run "npm run build:device"/);
    const script = await (await fetch(`${empty}/install.sh`)).text();
    expect(script).toContain("HUB='https://hub.example.com:8443'");
    expect(script).toContain("KIT_VERSION=''");
    const ca = await fetch(`${empty}/ca.pem`);
    expect(ca.status).toBe(404);
    expect(((await ca.json()) as { message: string }).message).toMatch(/no local CA/);
  });

  it('serve each architecture\'s tarball with its SHA-256, its .sha256 and kit.json, and nothing else of the directory', async () => {
    const r = await fetch(`${withKit}/device-kit/${kit.file}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-devicestreams-sha256')).toBe(kit.sha256);
    expect(r.headers.get('content-type')).toBe('application/gzip');
    expect(await r.text()).toBe('tarball bytes');
    expect(await (await fetch(`${withKit}/device-kit/${kit.file}.sha256`)).text()).toBe(`${kit.sha256}  ${kit.file}\n`);
    // Each architecture's kit, with its own checksum.
    const arm = await fetch(`${withKit}/device-kit/devicestreams-device-9.9.9-linux-arm64.tar.gz`);
    expect(arm.headers.get('x-devicestreams-sha256')).toBe('e'.repeat(64));
    expect(await arm.text()).toBe('arm64 tarball bytes');
    const head = await fetch(`${withKit}/device-kit/${kit.file}`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('13');
    for (const name of ['secret.txt', '..%2Fkit.json', 'ca.pem']) {
      const other = await fetch(`${withKit}/device-kit/${name}`);
      expect(other.status, name).toBe(404);
      expect(await other.text(), name).toContain(`this hub serves version 9.9.9: ${kit.file}, devicestreams-device-9.9.9-linux-arm64.tar.gz; a kit for another architecture: npm run build:device -- --arch all`);
    }
    expect(await (await fetch(`${withKit}/ca.pem`)).text()).toBe(CA);
    expect(await (await fetch(`${withKit}/install.sh`)).text()).toContain("KIT_VERSION='9.9.9'");
  });

  it('limit downloads per address: past the burst a typed 429 with Retry-After', async () => {
    const d = dir();
    copyFileSync(join(kit.dir, 'kit.json'), join(d, 'kit.json'));
    copyFileSync(join(kit.dir, kit.file), join(d, kit.file));
    const limited = await serve({ kitDir: d, burst: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await fetch(`${limited}/device-kit/kit.json`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const r = await fetch(`${limited}/install.sh`);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await r.json()) as { errorCode: number }).errorCode).toBe(ErrorCode.ThrottledDownload);
    expect(JSON.parse(readFileSync(join(d, 'kit.json'), 'utf8'))).toMatchObject({ version: '9.9.9' });
  });
});
