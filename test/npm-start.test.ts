/**
 * `npm start` itself (scripts/start.js), as a new user runs it: on a free port with its own data
 * directory, the URL it prints answers, the demo device comes online, the hub serves the device kit
 * it built, a second start reuses the data, and Ctrl-C (SIGINT) or a SIGKILL leaves no process behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServiceClient } from '../server/sdk/service-client.js';
import { CLI, ROOT, freePort, sleep, spawnProc, stopAll, tempDir, type Proc } from './harness.js';
import { AppClient } from './fixtures/app-client.js';

afterAll(stopAll);

/** The pids of every live process below `pid` (read from /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited while we read.
    }
  }
  const found: number[] = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body = (body + d).slice(0, 200_000)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface Started {
  proc: Proc;
  url: string;
  password: string;
}

/** Runs `node scripts/start.js` and waits for its start text (a console build may come first). */
async function start(dataDir: string, port: number): Promise<Started> {
  const proc = spawnProc(process.execPath, [join(ROOT, 'scripts', 'start.js'), '--port', String(port), '--data-dir', dataDir], { DEVICESTREAMS_ADMIN_PASSWORD: undefined, PORT: undefined }, 'SIGINT');
  const m = await proc.waitFor(/Console:\s+(https:\/\/\S+?)\/?\n[\s\S]*?Login:\s+admin \/ (\S+)/, 240_000);
  return { proc, url: m[1] as string, password: m[2] as string };
}

/** SIGINT, as Ctrl-C sends; resolves once it and everything it started are gone (bounded). */
async function interrupt(s: Started): Promise<void> {
  const children = descendants(s.proc.pid);
  expect(children.length, 'the demo device runs as child processes').toBeGreaterThanOrEqual(3);
  s.proc.kill('SIGINT');
  const code = await Promise.race([s.proc.exited, sleep(10_000).then(() => 'still running')]);
  expect(code).toBe(0);
  expect(await stillRunning(children, 5000), 'processes left behind').toEqual([]);
}

/** Which of `pids` still run after waiting up to `ms` for all of them to end. */
async function stillRunning(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pids.filter((p) => existsSync(`/proc/${p}`));
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = pids.filter((p) => existsSync(`/proc/${p}`));
  }
  return left;
}

describe('npm start', () => {
  it('serves the console and the device kit, brings the demo device online, reuses its data on a second start, and leaves nothing behind on Ctrl-C', async () => {
    const dataDir = tempDir('ds-start-');
    const port = await freePort();
    const first = await start(dataDir, port);
    expect(first.url).toBe(`https://localhost:${port}`);
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
    expect(first.proc.output()).toContain(join(dataDir, 'tls', 'ca.pem'));

    const page = await get(`${first.url}/`, ca);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<div id="root">/);
    // The kit npm start built, behind the install script the hub serves.
    const kit = JSON.parse(readFileSync(join(ROOT, 'dist', 'device-kit', 'kit.json'), 'utf8')) as { version: string; file: string };
    const script = await get(`${first.url}/install.sh`, ca);
    expect(script.status).toBe(200);
    expect(script.body).toContain(`KIT_VERSION='${kit.version}'`);
    expect(script.body).toContain(`HUB='${first.url}'`);
    expect((await get(`${first.url}/device-kit/${kit.file}.sha256`, ca)).status).toBe(200);

    const ownerCs = execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'iothubowner', '--data-dir', dataDir, '--host-name', `localhost:${port}`], { encoding: 'utf8' }).trim();
    const service = createServiceClient(ownerCs, { ca, hubUrl: first.url });
    expect((await service.getDevice('demo-device')).connectionState).toBe('Connected');
    const demoKey = await service.deviceConnectionString('demo-device');
    expect(first.proc.output()).toMatch(/registered the demo device/);
    // Its web app: the start text names its origin, which the hub serves (a page saying to open
    // it from the console, without the console's pass), and the device maps it as http.
    const appUrl = `https://demo-device--http.apps.localhost:${port}/`;
    expect(first.proc.output()).toContain(appUrl);
    expect((await new AppClient(appUrl, ca).get('/')).text).toMatch(/from the DeviceStreams console/);
    const web = await service.initiateStream('demo-device', 'http');
    // HTTP/1.0: the device's server closes the connection after its answer, which ends the stream.
    web.write('GET /app.js HTTP/1.0\r\nHost: demo\r\n\r\n');
    let appScript = '';
    for await (const chunk of web) appScript += (chunk as Buffer).toString();
    expect(appScript).toMatch(/^HTTP\/1\.1 200[\s\S]*loaded from \/app\.js/);
    await interrupt(first);

    const second = await start(dataDir, port);
    expect(second.password).toBe(first.password);
    expect(second.proc.output()).not.toMatch(/registered the demo device/);
    expect(second.proc.output()).not.toMatch(/SharedAccessKeyName=iothubowner;SharedAccessKey=/);
    const again = createServiceClient(ownerCs, { ca, hubUrl: second.url });
    const deadline = Date.now() + 15_000;
    while ((await again.getDevice('demo-device')).connectionState !== 'Connected' && Date.now() < deadline) await sleep(200);
    expect((await again.getDevice('demo-device')).connectionState).toBe('Connected');
    expect(await again.deviceConnectionString('demo-device')).toBe(demoKey);
    await interrupt(second);
  }, 600_000);

  it('stops its demo device processes within seconds when it is killed outright (SIGKILL), so the next start on the same data works', async () => {
    const dataDir = tempDir('ds-start-kill-');
    const port = await freePort();
    const first = await start(dataDir, port);
    const children = descendants(first.proc.pid);
    expect(children.length, 'the demo device runs as child processes').toBeGreaterThanOrEqual(3);
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    // Orphaned, they notice within a second or so and stop as on SIGTERM.
    expect(await stillRunning(children, 15_000), 'demo device processes left behind').toEqual([]);
    const second = await start(dataDir, port);
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
    const ownerCs = execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'iothubowner', '--data-dir', dataDir, '--host-name', `localhost:${port}`], { encoding: 'utf8' }).trim();
    const again = createServiceClient(ownerCs, { ca, hubUrl: second.url });
    const until = Date.now() + 15_000;
    while ((await again.getDevice('demo-device')).connectionState !== 'Connected' && Date.now() < until) await sleep(200);
    expect((await again.getDevice('demo-device')).connectionState).toBe('Connected');
    await interrupt(second);
  }, 600_000);
});
