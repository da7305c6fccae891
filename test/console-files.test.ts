/**
 * File transfers through the console (PUT/GET /api/devices/:id/files) with a real hub, agent and
 * file server: large files intact with the hub's memory flat, the root never left, a cancelled
 * upload leaving nothing, roles and Origin enforced, clear errors for devices without files, each
 * transfer in the stream log (console and cp), and a marker in the terminal session's recording.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, TERMINAL_RESUMABLE_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { parseConsoleStatus } from '../shared/console-protocol.js';
import type { StreamLogEntry } from '../server/sdk/service-client.js';
import { startConsoleHub, until, type ConsoleClient } from './console-client.js';
import { getFile, putFile } from './fixtures/console-files.js';
import { rssOf, spawnCli, startAgent, startShellServer, stopAll, tempDir, type HubHandle, type Proc } from './harness.js';

const MiB = 1024 * 1024;
const DEVICE = 'files-console';
let hub: HubHandle;
let c: ConsoleClient;
let admin: string;
let operator: string;
let viewer: string;
let root: string;
let outside: string;
let fileServer: Proc;

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Samples a process's resident memory every 25 ms; `stop()` gives the highest seen. */
function watchRss(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 25);
  return { stop: () => (clearInterval(timer), peak) };
}

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** The newest stream-log entry of the `files` stream for this device that `match` accepts. */
async function loggedTransfer(match: (s: StreamLogEntry) => boolean): Promise<StreamLogEntry> {
  let found: StreamLogEntry | undefined;
  await until(async () => {
    const { streams } = await hub.service.listStreams({ deviceId: DEVICE, limit: 50 });
    found = streams.find((s) => s.streamName === 'files' && s.state === 'ended' && match(s));
    return found !== undefined;
  }, 20_000, 'the transfer in the stream log');
  return found as StreamLogEntry;
}

/** A PUT with a chunked body (no Content-Length), as a streamed fetch would send it. */
function putChunked(cookie: string, path: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, hub.url), { method: 'PUT', ca: hub.ca, agent: false, headers: { cookie, origin: c.origin } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.write('no length');
    req.end();
  });
}

/** A PUT that announces `length` bytes and sends none: the answer must come before any is read. */
function putHeadersOnly(cookie: string, path: string, length: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, hub.url), { method: 'PUT', ca: hub.ca, agent: false, headers: { cookie, origin: c.origin, 'content-length': length } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

beforeAll(async () => {
  ({ hub, client: c, admin } = await startConsoleHub('files-admin-pw-1'));
  for (const [name, role] of [['olga', 'operator'], ['vera', 'viewer']] as const) {
    expect((await c.call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password-1`, role } })).status).toBe(201);
  }
  operator = await c.login('olga', 'olga-password-1');
  viewer = await c.login('vera', 'vera-password-1');
  const base = tempDir('ds-console-files-');
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'outside the root\n');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out'));
  symlinkSync(outside, join(root, 'dir-out'));
  const sock = join(tempDir('ds-fsock-'), 'run', 'files.sock');
  fileServer = spawnCli(['file-server', '--root', root, '--listen', `unix:${sock}`]);
  await fileServer.waitFor(/LISTENING unix:/);
  const shell = await startShellServer();
  await startAgent(hub, DEVICE, [`files=unix:${sock}`, shell.map]);
  await startAgent(hub, 'no-files', [shell.map]);
}, 90_000);

afterAll(async () => {
  await stopAll();
});

describe('console file transfers', () => {
  it('uploads and downloads 100 MiB with equal SHA-256, the hub process growing < 48 MiB after a 16 MiB warm-up, and logs both with name, size and direction', async () => {
    const local = join(tempDir(), 'big.bin');
    writeFileSync(local, randomBytes(100 * MiB));
    const want = await sha256File(local);
    // The hub's heap grows to its working size with the first transfers through it (by about
    // 45 MiB here, whatever their size: V8's spaces, TLS), so a 16 MiB round trip goes first and
    // what is measured is what the 100 MiB ones hold. Holding the file would take 100 MiB.
    const warm = join(tempDir(), 'warm.bin');
    writeFileSync(warm, randomBytes(16 * MiB));
    expect((await putFile(c, operator, DEVICE, 'warm.bin', warm)).status).toBe(201);
    expect((await getFile(c, operator, DEVICE, 'warm.bin')).sha256).toBe(await sha256File(warm));
    const before = rssOf(hub.proc.pid);
    const rss = watchRss(hub.proc.pid);
    let t = Date.now();
    const up = await putFile(c, operator, DEVICE, 'big.bin', local);
    const upMs = Date.now() - t;
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    expect(up.json).toEqual({ path: 'big.bin', size: 100 * MiB });
    expect(await sha256File(join(root, 'big.bin'))).toBe(want);
    t = Date.now();
    const down = await getFile(c, operator, DEVICE, 'big.bin');
    const downMs = Date.now() - t;
    const peak = rss.stop();
    expect(down.status).toBe(200);
    expect(down.headers['content-length']).toBe(String(100 * MiB));
    expect(down.headers['content-disposition']).toBe('attachment; filename="big.bin"; filename*=UTF-8\'\'big.bin');
    expect(down.bytes).toBe(100 * MiB);
    expect(down.sha256).toBe(want);
    console.log(`console 100 MiB: upload ${upMs} ms (${(100 / (upMs / 1000)).toFixed(0)} MiB/s), download ${downMs} ms (${(100 / (downMs / 1000)).toFixed(0)} MiB/s); hub RSS ${(before / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(48 * MiB);

    const upLog = await loggedTransfer((s) => s.transfer?.direction === 'upload' && s.transfer.name === 'big.bin');
    expect(upLog.operator).toBe('olga');
    // Both ended their halves: a finished transfer is a normal end in the log.
    expect(`${upLog.reason ?? ''}`).not.toMatch(/abnormally/);
    // The bytes that went the upload's way: the file and the protocol's one header line.
    expect(upLog.transfer?.size).toBeGreaterThanOrEqual(100 * MiB);
    expect(upLog.transfer?.size).toBeLessThan(100 * MiB + 8 * 1024);
    const downLog = await loggedTransfer((s) => s.transfer?.direction === 'download' && s.transfer.name === 'big.bin');
    expect(downLog.transfer?.size).toBeGreaterThanOrEqual(100 * MiB);
    expect(`${downLog.reason ?? ''}`).not.toMatch(/abnormally/);
    expect(downLog.transfer?.size).toBeLessThan(100 * MiB + 8 * 1024);
    // The console's history shows the same.
    const page = await c.call('GET', `/api/streams?deviceId=${DEVICE}`, { cookie: admin });
    const rows = (page.json as { streams: Array<{ streamId: string; transfer: unknown }> }).streams;
    expect(rows.find((r) => r.streamId === upLog.streamId)?.transfer).toEqual(upLog.transfer);
  }, 240_000);

  it('refuses "..", an absolute path, a symlink out of the root and a symlinked directory, both ways, with 400 file_outside_root, the path as given and what to do, writing nothing outside', async () => {
    const before = listing(outside);
    const local = join(tempDir(), 'payload.txt');
    writeFileSync(local, 'must not land outside\n');
    for (const path of ['../outside/secret.txt', `${outside}/secret.txt`, 'link-out', 'dir-out/secret.txt', 'dir-out/new.txt']) {
      const put = await putFile(c, operator, DEVICE, path, local);
      expect(put.status, `upload to ${path}`).toBe(400);
      expect(put.json, `upload to ${path}`).toMatchObject({ error: { code: 'file_outside_root' } });
      expect((put.json as { error: { message: string } }).error.message).toMatch(/(contains "\.\."|is an absolute path|leads outside the file server's root).*use a path relative to the file server's --root/);
      // Quoted as given: 'link-out' is not 'Link-out' on the device's file system.
      expect((put.json as { error: { message: string } }).error.message, `upload to ${path}`).toContain(path);
      if (path === 'dir-out/new.txt') continue;
      const get = await getFile(c, operator, DEVICE, path);
      expect(get.status, `download of ${path}`).toBe(400);
      expect(get.json).toMatchObject({ error: { code: 'file_outside_root' } });
    }
    expect(listing(outside)).toEqual(before);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('outside the root\n');
  }, 120_000);

  it('an upload the browser cancels mid-way leaves neither the file nor a temporary file on the device', async () => {
    const local = join(tempDir(), 'cancel.bin');
    writeFileSync(local, randomBytes(200 * MiB));
    const r = await putFile(c, operator, DEVICE, 'cancel.bin', local, { abortAfter: 16 * MiB });
    expect(r.status).toBe(0);
    await until(() => fileServer.output().includes('put cancel.bin failed'), 60_000, 'the file server to give the upload up');
    expect(listing(root).filter((n) => n.includes('cancel.bin'))).toEqual([]);
  }, 120_000);

  it('a viewer gets 403 both ways and no stream is opened; another origin, a missing Content-Length and a bad path are refused', async () => {
    const local = join(tempDir(), 'v.txt');
    writeFileSync(local, 'viewer\n');
    const since = Date.now();
    const put = await putFile(c, viewer, DEVICE, 'v.txt', local);
    expect(put.status).toBe(403);
    expect(put.json).toEqual({ error: { code: 'forbidden', message: 'Your role may not move files to or from devices (operators and admins only).' } });
    const get = await getFile(c, viewer, DEVICE, 'big.bin');
    expect(get.status).toBe(403);
    expect(existsSync(join(root, 'v.txt'))).toBe(false);
    expect((await hub.service.listStreams({ deviceId: DEVICE, since, limit: 10 })).streams.filter((s) => s.operator === 'vera')).toEqual([]);
    const cross = await putFile(c, operator, DEVICE, 'x.txt', local, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.json).toMatchObject({ error: { code: 'bad_origin' } });
    const chunked = await putChunked(operator, `/api/devices/${DEVICE}/files?path=x.txt`);
    expect(chunked.status).toBe(411);
    expect(chunked.json).toMatchObject({ error: { code: 'length_required' } });
    const huge = await putHeadersOnly(operator, `/api/devices/${DEVICE}/files?path=huge.bin`, String(9 * 1024 * MiB));
    expect(huge.status).toBe(413);
    expect(huge.json).toMatchObject({ error: { code: 'too_large', message: expect.stringMatching(/up to 8589934592 bytes \(use "devicestreams cp" for larger ones\)/) as unknown } });
    const noPath = await getFile(c, operator, DEVICE, '');
    expect(noPath.status).toBe(400);
    expect(existsSync(join(root, 'x.txt'))).toBe(false);
  }, 60_000);

  it('a device without a files mapping, an offline device, and a missing file, say what to do', async () => {
    await hub.service.createDevice('files-offline');
    const offline = await getFile(c, operator, 'files-offline', 'a.txt');
    expect(offline.status).toBe(503);
    expect(offline.json).toMatchObject({ error: { code: 'device_offline' } });
    expect((offline.json as { error: { message: string } }).error.message).toMatch(/files-offline is not connected to the hub; start its agent, and for files run "devicestreams file-server --root DIR --listen unix:PATH" on the device and map it on its agent with --map files=unix:PATH/);
    const none = await getFile(c, operator, 'no-files', 'a.txt');
    expect(none.status).toBe(409);
    expect(none.json).toMatchObject({ error: { code: 'no_file_server' } });
    expect((none.json as { error: { message: string } }).error.message).toMatch(/no-files has no working "files" service .*devicestreams file-server --root DIR.*--map files=unix:PATH/);
    const missing = await getFile(c, operator, DEVICE, 'no/such.txt');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: { code: 'file_not_found' } });
    expect((missing.json as { error: { message: string } }).error.message).toMatch(/no such file or directory on the device; check the path/);
  }, 60_000);

  it('devicestreams cp transfers are logged with name, size and direction and listed by devicestreams streams', async () => {
    const local = join(tempDir(), 'by-cp.txt');
    writeFileSync(local, 'x'.repeat(5000));
    const env = { IOTHUB_CONNECTION_STRING: hub.ownerCs };
    const put = spawnCli(['cp', '--ca', hub.caFile, local, `${DEVICE}:cp/by-cp.txt`], env);
    mkdirSync(join(root, 'cp'), { recursive: true });
    expect(await put.exited, put.output()).toBe(0);
    const get = spawnCli(['cp', '--ca', hub.caFile, `${DEVICE}:cp/by-cp.txt`, join(tempDir(), 'back.txt')], env);
    expect(await get.exited, get.output()).toBe(0);
    const up = await loggedTransfer((s) => s.transfer?.direction === 'upload' && s.transfer.name === 'cp/by-cp.txt');
    expect(up.operator).toBeNull();
    expect(up.transfer?.size).toBeGreaterThanOrEqual(5000);
    const down = await loggedTransfer((s) => s.transfer?.direction === 'download' && s.transfer.name === 'cp/by-cp.txt');
    expect(down.transfer?.size).toBeGreaterThanOrEqual(5000);
    const list = spawnCli(['streams', 'list', '--ca', hub.caFile, '--device', DEVICE, '--limit', '5'], env);
    expect(await list.exited).toBe(0);
    // Which side's close reached the endpoint first after the last byte is a race (both end normally).
    expect(list.output()).toMatch(/files-console\/files accepted by iothubowner, [\d.]+ s, ↓[\d.]+ B ↑4\.9 KiB, download "cp\/by-cp\.txt" 4\.9 KiB closed by (device|service) \(closed normally\)/);
  }, 60_000);

  it('the hub refuses a malformed transfer header with 400 and logs nothing for it', async () => {
    const since = Date.now();
    for (const value of ['sideways x', 'upload', `upload ${'x'.repeat(300)}`, 'upload a%0Ab']) {
      const err = await hub.service.call('POST', `/twins/${DEVICE}/streams/files`, { headers: { 'x-devicestreams-transfer': value } }).then(() => undefined, (e: unknown) => e);
      expect(err, value).toBeInstanceOf(Error);
      expect(String(err), value).toMatch(/header x-devicestreams-transfer/);
    }
    expect((await hub.service.listStreams({ deviceId: DEVICE, since, limit: 10 })).streams).toEqual([]);
  });

  it('a transfer started from a recorded terminal session puts markers in its recording', async () => {
    const q = new URLSearchParams({ deviceId: DEVICE, cols: '80', rows: '24' });
    const ws = new WebSocket(`${hub.url.replace(/^http/, 'ws')}/api/terminal?${q.toString()}`, { headers: { origin: c.origin, cookie: operator }, ca: hub.ca });
    ws.on('error', () => undefined);
    const decoder = new FrameDecoder();
    let sessionId = '';
    let streamId = '';
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        const s = parseConsoleStatus((data as Buffer).toString());
        if (s?.type === 'status' && s.phase !== 'requesting') streamId = s.streamId;
        return;
      }
      for (const f of decoder.push(new Uint8Array(data as Buffer))) if (f.type === 'session') sessionId = f.sessionId;
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(encodeFrame({ type: 'hello', version: TERMINAL_RESUMABLE_VERSION, cols: 80, rows: 24, term: 'xterm-256color', session: { mode: 'new' } }));
    await until(() => sessionId !== '' && streamId !== '', 20_000, 'the session announced');
    const local = join(tempDir(), 'marked.txt');
    writeFileSync(local, 'marked\n');
    expect((await putFile(c, operator, DEVICE, 'marked.txt', local, { session: sessionId })).status).toBe(201);
    expect((await getFile(c, operator, DEVICE, 'marked.txt', sessionId)).status).toBe(200);
    // Another operator's session id marks nothing (and fails nothing).
    expect((await putFile(c, admin, DEVICE, 'marked-by-admin.txt', local, { session: sessionId })).status).toBe(201);
    ws.close();
    let cast = '';
    await until(async () => {
      cast = (await c.call('GET', `/api/recordings/${streamId}/cast`, { cookie: admin })).text;
      // The cast is JSON lines: the marker's quotes are escaped there.
      return cast.includes('file download \\"marked.txt\\" (7 bytes) done');
    }, 20_000, 'the markers in the recording');
    const markers = cast.split('\n').filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as [number, string, string]).filter((e) => e[1] === 'm' && e[2].startsWith('file ')).map((e) => e[2]);
    expect(markers).toEqual([
      'file upload "marked.txt" (7 bytes) started by olga',
      'file upload "marked.txt" (7 bytes) done',
      'file download "marked.txt" (7 bytes) started by olga',
      'file download "marked.txt" (7 bytes) done',
    ]);
  }, 60_000);
});
