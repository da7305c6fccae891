/**
 * Holes an attacker's probe found, each closed and checked against a real hub process: the data
 * directory private to the hub's account, device streams ended when the device is disabled or
 * deleted, text from devices unable to forge log lines, the agent's refusals naming nothing but the
 * refused name, connections that never finish their handshake capped, requests the parser refuses
 * answered, a trickled unread body unable to hold its connection, and the console's policy
 * unable to read device keys.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceClient, type DeviceClient } from '../device/sdk/device-client.js';
import { createServiceClient, StreamRejectedError } from '../server/sdk/service-client.js';
import { StreamClosedError } from '../shared/ws-duplex.js';
import { CLI, spawnCli, startAgent, startEchoServer, startHub, stopAll, tempDir, type HubHandle } from './harness.js';
import { ConsoleClient, session, until } from './console-client.js';
import { deviceToken, policyToken } from './fixtures/bad-input-helpers.js';

const ADMIN_PASSWORD = 'hardening-admin-pw';
let hub: HubHandle;
let echoPort: number;

beforeAll(async () => {
  hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  echoPort = (await startEchoServer()).port;
});

afterAll(stopAll);

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);

describe('data directory', () => {
  it('is 0700 with every file in it and its secrets 0600, and another local account cannot read the store', async () => {
    // Some writes first, so the WAL and shared-memory files exist.
    await hub.service.createDevice('perm-dev');
    const d = hub.dataDir;
    expect(mode(d)).toBe('700');
    for (const f of ['hub.db', 'hub.db-wal', 'hub.db-shm']) expect([f, mode(join(d, f))]).toEqual([f, '600']);
    for (const sub of ['secrets', 'tls']) expect([sub, mode(join(d, sub))]).toEqual([sub, '700']);
    expect(mode(join(d, 'secrets', 'stream-token.key'))).toBe('600');
    expect(mode(join(d, 'tls', 'ca-key.pem'))).toBe('600');
    const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', join(d, 'hub.db')], { encoding: 'utf8' });
    expect(asNobody.status).not.toBe(0);
    expect(asNobody.stderr).toMatch(/Permission denied/);
  });

  it('makes an existing directory and store that others could read private at start, and says so', async () => {
    const dir = tempDir();
    const first = await startHub([], dir);
    first.proc.kill('SIGTERM');
    await first.proc.exited;
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'hub.db'), 0o644);
    const again = await startHub([], dir);
    expect(mode(dir)).toBe('700');
    expect(mode(join(dir, 'hub.db'))).toBe('600');
    expect(again.proc.output()).toMatch(new RegExp(`data directory: ${dir} was mode 755 \\(other local users could read it\\); set to 700`));
    expect(again.proc.output()).toMatch(/hub\.db was mode 644 .*set to 600/);
  });
});

describe('devices disabled or deleted', () => {
  async function openEcho(deviceId: string): Promise<Awaited<ReturnType<HubHandle['service']['initiateStream']>>> {
    await startAgent(hub, deviceId, [`echo=127.0.0.1:${echoPort}`]);
    const stream = await hub.service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 });
    const echoed = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.write('hello');
    await echoed;
    return stream;
  }

  it("tells the agent of a deleted device why it is refused, and it retries at the slowest pace (seconds apart, not at once)", async () => {
    const agent = await startAgent(hub, 'revoke-agent', [`echo=127.0.0.1:${echoPort}`]);
    const from = agent.output().length;
    await hub.service.deleteDevice('revoke-agent');
    const re = /the hub disabled or deleted revoke-agent; retrying at the slowest pace[^\n]*\n[\s\S]*?reconnecting in ([\d.]+) s/;
    await until(() => re.test(agent.output().slice(from)), 10_000, 'the agent to say why and when it retries');
    expect(Number(re.exec(agent.output().slice(from))?.[1])).toBeGreaterThanOrEqual(3);
  });

  for (const [what, revoke, reason] of [
    ['disabling', (id: string) => hub.service.updateDevice(id, { status: 'disabled' }), 'device disabled in the registry'],
    ['deleting', (id: string) => hub.service.deleteDevice(id), 'device deleted from the registry'],
  ] as const) {
    it(`${what} a device closes its open stream within 1 s with 4004 and logs the hub as closer with the reason`, async () => {
      const id = `revoke-${what}`;
      const stream = await openEcho(id);
      const closed = new Promise<{ at: number; err: unknown }>((resolve) => {
        let err: unknown;
        stream.on('error', (e) => { err = e; });
        stream.on('close', () => resolve({ at: Date.now(), err }));
      });
      const t0 = Date.now();
      await revoke(id);
      const { at, err } = await closed;
      expect(at - t0).toBeLessThan(1000);
      expect(err).toBeInstanceOf(StreamClosedError);
      expect((err as StreamClosedError).closeCode).toBe(4004);
      await until(async () => (await hub.service.getStream(stream.streamId ?? '')).state === 'ended', 3000, 'end recorded');
      expect(await hub.service.getStream(stream.streamId ?? '')).toMatchObject({ closedBy: 'hub', closeCode: 4004, reason, bytesToDevice: 5, bytesFromDevice: 5 });
    });
  }
});

describe('text from devices in logs and refusals', () => {
  let device: DeviceClient | undefined;
  beforeAll(async () => {
    // A device of the attacker's: it answers every request with a reason made to forge a log line.
    await hub.service.createDevice('forger');
    device = createDeviceClient(await hub.service.deviceConnectionString('forger'), { ca: hub.ca, hubUrl: hub.url });
    device.onStreamRequest((req) => req.reject('nope\n2026-11-30T00:00:00.000Z FORGED admin logged in from 10.0.0.1\u001b[2J'));
    await device.open();
  });
  afterAll(() => device?.close());

  it('cannot start a forged line in the hub log through a rejection reason', async () => {
    const c = new ConsoleClient(hub);
    const cookie = await c.login('admin', ADMIN_PASSWORD);
    const s = session(c.terminalSocket('forger', cookie));
    await s.closed;
    await until(() => hub.proc.output().includes('FORGED'), 5000, 'the rejection logged');
    const lines = hub.proc.output().split('\n');
    expect(lines.filter((l) => /^\S+ FORGED/.test(l))).toEqual([]);
    expect(hub.proc.output()).not.toContain('\u001b');
    expect(lines.some((l) => l.includes('nope\\n2026-11-30T00:00:00.000Z FORGED') && l.includes('\\x1b[2J'))).toBe(true);
  });

  it('shows a rejection reason to the CLI user as one line without escape sequences', async () => {
    // Not spawnSync: the device answering this request lives in this process.
    const cli = spawnCli(['stream', 'forger', '--name', 'x', '--ca', hub.caFile], { IOTHUB_CONNECTION_STRING: hub.ownerCs });
    cli.child.stdin?.end();
    expect(await cli.exited).not.toBe(0);
    const stderr = cli.output();
    expect(stderr).toContain('nope\\n2026-11-30T00:00:00.000Z FORGED');
    expect(stderr).not.toContain('\u001b');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it("refuses an unmapped name without naming the device's other services", async () => {
    await startAgent(hub, 'mapped-dev', [`ssh=127.0.0.1:${echoPort}`, `secret-plc=127.0.0.1:${echoPort}`]);
    const err = await hub.service.initiateStream('mapped-dev', 'nope').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StreamRejectedError);
    expect((err as StreamRejectedError).reason).toBe('this device has no mapping for stream "nope"');
  });
});

describe('connections that never finish their handshake', () => {
  /** A raw TCP connection from `from` that sends nothing; resolves once connected. */
  function idle(port: number, from: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', localAddress: from });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }
  /** Resolves true when the server closes `s` within `ms`. */
  function closedWithin(s: Socket, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      s.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
      s.on('error', () => undefined);
    });
  }
  function healthz(h: HubHandle, from: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(new URL('/healthz', h.url), { ca: h.ca, localAddress: from, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('closes an address\'s connections past its cap at once, then connections past the total, while others are served', async () => {
    const h = await startHub(['--max-unready-per-address', '5', '--max-unready-connections', '8']);
    const first = await Promise.all(Array.from({ length: 5 }, () => idle(h.port, '127.0.0.21')));
    const sixth = await idle(h.port, '127.0.0.21');
    expect(await closedWithin(sixth, 1000)).toBe(true);
    for (const s of first) expect(s.destroyed).toBe(false);
    expect(await healthz(h, '127.0.0.22')).toBe(200);
    const more = await Promise.all(Array.from({ length: 3 }, () => idle(h.port, '127.0.0.23')));
    const ninth = await idle(h.port, '127.0.0.24');
    expect(await closedWithin(ninth, 1000)).toBe(true);
    for (const s of [...first, ...more]) s.destroy();
    await until(async () => (await healthz(h, '127.0.0.21').catch(() => 0)) === 200, 3000, 'served again once the idle ones left');
    expect(h.proc.output()).toMatch(/refusing connections from 127\.0\.0\.21: 5 of its connections have not finished TLS/);
  });
});

describe('requests the server cannot take, over TLS to the hub', () => {
  /** Writes `text` on a TLS connection to the hub; resolves with what came back once the hub closed it, and how long after the first answer that was. */
  function exchangeRaw(text: string, trickle = false): Promise<{ answer: string; closedAfterAnswerMs: number }> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port: hub.port, host: '127.0.0.1', ca: hub.ca, servername: 'localhost' }, () => s.write(text));
      let got = '';
      let answeredAt = 0;
      const timer = trickle ? setInterval(() => s.writable && s.write('x'), 250) : undefined;
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (answeredAt === 0 && got.includes('\r\n\r\n')) answeredAt = Date.now();
      });
      s.on('error', () => undefined);
      s.once('close', () => {
        clearInterval(timer);
        if (answeredAt === 0) reject(new Error(`closed without an answer (got ${JSON.stringify(got.slice(0, 200))})`));
        else resolve({ answer: got, closedAfterAnswerMs: Date.now() - answeredAt });
      });
    });
  }

  it('answers oversized headers with 431 HeadersTooLarge and a malformed request with 400 InvalidRequest, as JSON, instead of a reset', async () => {
    const big = await exchangeRaw(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big.answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(big.answer).toContain('"errorCode":431001');
    const bad = await exchangeRaw('PUT /devices/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n');
    expect(bad.answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad.answer).toContain('"errorCode":400001');
    expect(await hub.service.listDevices()).toBeInstanceOf(Array);
  });

  it('closes a connection whose unread body still trickles in 5 s after its 401, where it used to stay open', async () => {
    const r = await exchangeRaw('PUT /devices/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n', true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.closedAfterAnswerMs).toBeGreaterThanOrEqual(4900);
    expect(r.closedAfterAnswerMs).toBeLessThan(15_000);
  }, 30_000);
});

describe('/metrics', () => {
  function scrape(h: HubHandle, authorization?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(new URL('/metrics', h.url), { ca: h.ca, agent: false, headers: authorization === undefined ? {} : { authorization } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('is refused without credentials (401001), with a device token or a wrong bearer token (401002), and served to a service SAS token or the bearer token the node was given', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const h = await startHub([], undefined, { DEVICESTREAMS_METRICS_TOKEN: token });
    expect(JSON.parse((await scrape(h)).body)).toMatchObject({ errorCode: 401001 });
    await h.service.createDevice('metrics-dev');
    const key = (await h.service.getDevice('metrics-dev')).authentication.symmetricKey.primaryKey;
    const asDevice = await scrape(h, deviceToken(h, 'metrics-dev', key));
    expect(asDevice.status).toBe(401);
    expect(JSON.parse((await scrape(h, 'Bearer metrics-token-0123456789abcdeX')).body)).toMatchObject({ errorCode: 401002 });
    for (const ok of [policyToken(h), `Bearer ${token}`]) {
      const r = await scrape(h, ok);
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/^devicestreams_connected_devices(\{[^}]*\})? \d+$/m);
    }
    // A node given no token takes none: the bearer form is refused there.
    expect((await scrape(hub, `Bearer ${token}`)).status).toBe(401);
    expect((await scrape(hub, policyToken(hub))).status).toBe(200);
  });
});

describe("the console's policy", () => {
  it('reads devices without their keys, while registryRead gets them', async () => {
    await hub.service.createDevice('keyed-dev');
    const policyCs = (name: string): string =>
      spawnSync(process.execPath, [CLI, 'policy', 'connection-string', name, '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host], { encoding: 'utf8' }).stdout.trim();
    const consoleClient = createServiceClient(policyCs('console'), { ca: hub.ca, hubUrl: hub.url });
    const reader = createServiceClient(policyCs('registryRead'), { ca: hub.ca, hubUrl: hub.url });
    const keys = (await reader.getDevice('keyed-dev')).authentication.symmetricKey;
    expect(keys.primaryKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const one = await consoleClient.call('GET', '/devices/keyed-dev');
    const all = await consoleClient.call('GET', '/devices');
    for (const body of [JSON.stringify(one.body), JSON.stringify(all.body)]) {
      expect(body).toContain('keyed-dev');
      expect(body).not.toContain(keys.primaryKey);
      expect(body).not.toContain(keys.secondaryKey);
    }
    expect(one.body).toMatchObject({ authentication: { symmetricKey: { primaryKey: null, secondaryKey: null } } });
    expect(readFileSync(join(hub.dataDir, 'hub.db')).length).toBeGreaterThan(0);
  });
});
