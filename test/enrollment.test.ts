/**
 * Enrollment against a real hub process (TLS, SQLite file): a token registers its device once and
 * the connection string it gives works; a second use, an expired, a forged and a mismatched token
 * are refused with their messages and change nothing; of parallel uses exactly one wins; the store
 * file holds the secret's hash, never the token; a connected device cannot be taken over.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EnrollAnswer, EnrollmentTokenCreated, EnrollmentTokenRequest } from '../shared/enrollment.js';
import { DsError, ErrorCode } from '../shared/errors.js';
import { createServiceClient } from '../server/sdk/service-client.js';
import { createDeviceClient } from '../device/sdk/device-client.js';
import { CLI, sleep, spawnCli, startHub, stopAll, type HubHandle } from './harness.js';
import { execFileSync } from 'node:child_process';

let hub: HubHandle;
/** Each test enrolls from an address of its own: failures count per address (see the last test). */
let address = 0;

beforeAll(async () => {
  hub = await startHub();
});
beforeEach(() => {
  address += 1;
});
afterAll(stopAll);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** POST /enroll as a device does: no credentials; `from` is a loopback source address. */
function enroll(body: unknown, from = `127.0.1.${address}`): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(new URL('/enroll', hub.url), {
      method: 'POST',
      ca: hub.ca,
      headers: { 'content-type': 'application/json' },
      localAddress: from,
      agent: false,
    }, (res) => {
      let raw = '';
      res.on('data', (d: Buffer) => (raw += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(raw) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function token(spec: EnrollmentTokenRequest): Promise<EnrollmentTokenCreated> {
  return (await hub.service.call('POST', '/enrollment-tokens', { body: spec })).body as EnrollmentTokenCreated;
}

async function deviceExists(id: string): Promise<boolean> {
  try {
    await hub.service.getDevice(id);
    return true;
  } catch (err) {
    if (err instanceof DsError && err.code === ErrorCode.DeviceNotFound) return false;
    throw err;
  }
}

describe('enrollment', () => {
  it('registers the token\'s device with its tags once, with a connection string that connects; a second use is refused and changes nothing', async () => {
    const t = await token({ target: 'enr-one', tags: { site: 'plant-2' }, maps: ['shell', 'ssh=127.0.0.1:22'] });
    expect(t).toMatchObject({ target: 'enr-one', pattern: false, tags: { site: 'plant-2' }, maps: ['shell', 'ssh=127.0.0.1:22'] });
    expect(t.token).toMatch(/^ds1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(3590_000);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    const fingerprint = createHash('sha256').update(Buffer.from(hub.ca.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')).digest('hex');
    expect(t.installCommand).toContain(`--token ${t.token}`);
    expect(t.installCommand).toContain(`--ca-sha256 ${fingerprint}`);
    expect(t.installCommand).toContain(`${hub.url}/install.sh`);

    const first = await enroll({ token: t.token });
    expect(first.status).toBe(200);
    const answer = first.json as unknown as EnrollAnswer;
    expect(answer).toMatchObject({ deviceId: 'enr-one', hostName: new URL(hub.url).host, maps: ['shell', 'ssh=127.0.0.1:22'], tags: { site: 'plant-2' } });
    expect(answer.connectionString).toMatch(new RegExp(`^HostName=${new URL(hub.url).host};DeviceId=enr-one;SharedAccessKey=[A-Za-z0-9+/]{43}=$`));
    const registered = await hub.service.getDevice('enr-one');
    expect(registered).toMatchObject({ status: 'enabled', tags: { site: 'plant-2' } });
    expect(answer.connectionString).toContain(registered.authentication.symmetricKey.primaryKey);

    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', 'echo=127.0.0.1:9'], { DEVICE_CONNECTION_STRING: answer.connectionString });
    await agent.waitFor(/connected to the hub/);
    // The hello names the agent and its version; the registry shows it.
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
    for (let i = 0; i < 50 && (await hub.service.getDevice('enr-one')).agent === null; i++) await sleep(100);
    expect((await hub.service.getDevice('enr-one')).agent).toBe(`devicestreams-agent/${version}`);

    const second = await enroll({ token: t.token });
    expect(second.status).toBe(409);
    expect(second.json.errorCode).toBe(ErrorCode.EnrollmentTokenUsed);
    expect(second.json.message).toMatch(/^this enrollment token was already used on \d{4}-\d\d-\d\dT[\d:.]+Z by device "enr-one"; create a new one with: devicestreams device enroll-token enr-one/);
    const after = await hub.service.getDevice('enr-one');
    expect(after.authentication.symmetricKey).toEqual(registered.authentication.symmetricKey);
    expect(after.connectionState).toBe('Connected');
  });

  it('refuses an expired token with when it expired, and registers nothing', async () => {
    const t = await token({ target: 'enr-late', ttlSeconds: 1 });
    await sleep(1100);
    const r = await enroll({ token: t.token });
    expect(r.status).toBe(401);
    expect(r.json.errorCode).toBe(ErrorCode.EnrollmentTokenExpired);
    expect(r.json.message).toBe(`this enrollment token expired at ${t.expiresAt}; create a new one with: devicestreams device enroll-token enr-late (or Add device in the console)`);
    expect(await deviceExists('enr-late')).toBe(false);
  });

  it('refuses forged, unknown and malformed tokens alike, and a body that is not JSON', async () => {
    const t = await token({ target: 'enr-forged' });
    const [, id, secret] = t.token.split('.') as [string, string, string];
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const forged of [`ds1.${id}.${flipped}`, `ds1.${'0'.repeat(16)}.${secret}`, 'ds1.nope', '', `${t.token}x`]) {
      const r = await enroll({ token: forged });
      expect(r.status, forged).toBe(401);
      expect(r.json.errorCode, forged).toBe(ErrorCode.EnrollmentTokenInvalid);
      expect(r.json.message).toMatch(/^not a valid enrollment token/);
    }
    expect((await enroll('{"token": ')).json).toMatchObject({ errorCode: ErrorCode.InvalidRequest, message: 'the enrollment body must be JSON' });
    expect((await enroll({ token: 42 })).json).toMatchObject({ errorCode: ErrorCode.InvalidRequest });
    expect((await enroll('x'.repeat(17 * 1024))).json).toMatchObject({ errorCode: ErrorCode.PayloadTooLarge });
    expect(await deviceExists('enr-forged')).toBe(false);
    // The real token still works: the refusals changed nothing.
    expect((await enroll({ token: t.token })).status).toBe(200);
  });

  it('lets exactly one of eight parallel uses of a pattern token register a device', async () => {
    const t = await token({ target: 'race-*' });
    expect(t.pattern).toBe(true);
    expect(t.installCommand).toContain('--name-from-hostname');
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => enroll({ token: t.token, deviceId: `race-${i}` })));
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.json.errorCode).toBe(ErrorCode.EnrollmentTokenUsed);
      expect(a.json.message).toMatch(/create a new one with: devicestreams device enroll-token 'race-\*' \(or Add device in the console\)$/);
    }
    const page = await hub.service.listDevicePage({ search: 'race-' });
    expect(page.devices.map((d) => d.deviceId)).toEqual([won[0]?.json.deviceId]);
  });

  it('registers a pattern token\'s device under the id it asks for when that matches, and never an existing one', async () => {
    const t = await token({ target: 'sensor-*', tags: { kind: 'sensor' } });
    expect((await enroll({ token: t.token })).json).toMatchObject({ errorCode: ErrorCode.InvalidRequest, message: expect.stringMatching(/send the device's id as "deviceId"/) as unknown });
    expect((await enroll({ token: t.token, deviceId: 'pump-1' })).json).toMatchObject({ errorCode: ErrorCode.EnrollmentRefused, message: 'this enrollment token is for devices named sensor-*; "pump-1" does not match it' });
    expect((await enroll({ token: t.token, deviceId: 'sensor-' })).json.errorCode).toBe(ErrorCode.EnrollmentRefused);
    await hub.service.createDevice('sensor-taken');
    expect((await enroll({ token: t.token, deviceId: 'sensor-taken' })).json.errorCode).toBe(ErrorCode.DeviceAlreadyExists);
    expect(await deviceExists('pump-1')).toBe(false);
    const ok = await enroll({ token: t.token, deviceId: 'sensor-17' });
    expect(ok.json).toMatchObject({ deviceId: 'sensor-17', tags: { kind: 'sensor' } });
    // A token for one id refuses any other.
    const one = await token({ target: 'enr-exact' });
    expect((await enroll({ token: one.token, deviceId: 'enr-other' })).json.errorCode).toBe(ErrorCode.EnrollmentRefused);
  });

  it('enrolls an existing offline device again with new keys, and refuses one whose agent is connected', async () => {
    await hub.service.createDevice('enr-again');
    const old = await hub.service.getDevice('enr-again');
    const t = await token({ target: 'enr-again', tags: { rebuilt: 'yes' } });
    const r = await enroll({ token: t.token, deviceId: 'enr-again' });
    expect(r.status).toBe(200);
    const now = await hub.service.getDevice('enr-again');
    expect(now.authentication.symmetricKey.primaryKey).not.toBe(old.authentication.symmetricKey.primaryKey);
    expect(now.tags).toEqual({ rebuilt: 'yes' });

    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', 'echo=127.0.0.1:9'], { DEVICE_CONNECTION_STRING: (r.json as unknown as EnrollAnswer).connectionString });
    await agent.waitFor(/connected to the hub/);
    for (let i = 0; i < 50 && (await hub.service.getDevice('enr-again')).connectionState !== 'Connected'; i++) await sleep(100);
    await expect(token({ target: 'enr-again' })).rejects.toMatchObject({ code: ErrorCode.EnrollmentRefused, message: expect.stringMatching(/has an agent connected now/) as unknown });
    await hub.service.updateDevice('enr-again', { status: 'disabled' });
    await expect(token({ target: 'enr-again' })).rejects.toMatchObject({ code: ErrorCode.EnrollmentRefused, message: expect.stringMatching(/is disabled/) as unknown });
  });

  it('keeps the secret\'s SHA-256 in the store file, never the token, with who made it and who used it', async () => {
    const t = await token({ target: 'enr-hashed' });
    expect((await enroll({ token: t.token })).status).toBe(200);
    const [, id, secret] = t.token.split('.') as [string, string, string];
    const db = new Database(join(hub.dataDir, 'hub.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM enrollment_tokens WHERE id = ?').get(id) as Record<string, unknown>;
      expect(row).toMatchObject({ secret_hash: createHash('sha256').update(secret).digest('hex'), created_by: 'iothubowner', used_by: 'enr-hashed' });
      expect(JSON.stringify(row)).not.toContain(secret);
    } finally {
      db.close();
    }
    for (const file of ['hub.db', 'hub.db-wal']) {
      const path = join(hub.dataDir, file);
      if (existsSync(path)) expect(readFileSync(path).includes(secret), file).toBe(false);
    }
  });

  it('records what an agent calls itself with its control characters escaped (the console and device list show it)', async () => {
    await hub.service.createDevice('enr-named');
    const device = createDeviceClient(await hub.service.deviceConnectionString('enr-named'), { ca: hub.ca, agent: 'evil\x1b[2J\nagent/9' });
    try {
      await device.open();
      for (let i = 0; i < 50 && (await hub.service.getDevice('enr-named')).agent === null; i++) await sleep(100);
      expect((await hub.service.getDevice('enr-named')).agent).toBe('evil\\x1b[2J\\nagent/9');
    } finally {
      device.close();
    }
  });

  it('lets a policy with RegistryWrite or Enroll make tokens, and no other', async () => {
    const host = new URL(hub.url).host;
    const policy = (name: string): string => execFileSync(process.execPath, [CLI, 'policy', 'connection-string', name, '--data-dir', hub.dataDir, '--host-name', host], { encoding: 'utf8' }).trim();
    const console = createServiceClient(policy('console'), { ca: hub.ca, hubUrl: hub.url });
    const made = (await console.call('POST', '/enrollment-tokens', { body: { target: 'enr-by-console' }, headers: { 'x-devicestreams-operator': 'alice' } })).body as EnrollmentTokenCreated;
    expect(made.target).toBe('enr-by-console');
    const reader = createServiceClient(policy('registryRead'), { ca: hub.ca, hubUrl: hub.url });
    await expect(reader.call('POST', '/enrollment-tokens', { body: { target: 'x' } })).rejects.toMatchObject({ code: ErrorCode.Forbidden });
    const [, id] = made.token.split('.') as [string, string];
    const db = new Database(join(hub.dataDir, 'hub.db'), { readonly: true });
    try {
      expect((db.prepare('SELECT created_by FROM enrollment_tokens WHERE id = ?').get(id) as { created_by: string }).created_by).toBe('console (alice)');
    } finally {
      db.close();
    }
  });

  it('answers bad token requests with the field and the reason', async () => {
    const bad = async (body: unknown): Promise<string> => {
      try {
        await hub.service.call('POST', '/enrollment-tokens', { body });
      } catch (err) {
        expect(err).toMatchObject({ code: ErrorCode.InvalidRequest });
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(await bad({ target: '*' })).toMatch(/field "target"/);
    expect(await bad({ target: 'a b' })).toMatch(/field "target"/);
    expect(await bad({ target: 'x', maps: ['ssh=127.0.0.1'] })).toMatch(/service "ssh=127.0.0.1" needs HOST:PORT/);
    expect(await bad({ target: 'x', maps: ['ssh=127.0.0.1:65536'] })).toMatch(/needs a port from 1 to 65535/);
    expect(await bad({ target: 'x', maps: ['ssh'] })).toMatch(/must be shell or files, or NAME=HOST:PORT/);
    expect(await bad({ target: 'x', maps: ['shell', 'shell'] })).toMatch(/"shell" is given twice/);
    expect(await bad({ target: 'x', tags: { 'a b': 'c' } })).toMatch(/field "tags"/);
    expect(await bad({ target: 'x', ttlSeconds: 24 * 3600 + 1 })).toMatch(/field "ttlSeconds"/);
  });

  it('answers 429 to an address that sent 20 forged tokens or bad bodies in 5 minutes, but still takes a real token from it', async () => {
    const t = await token({ target: 'enr-limited' });
    const [, id] = t.token.split('.') as [string, string];
    const forged = `ds1.${id}.${'A'.repeat(43)}`;
    for (let i = 0; i < 19; i++) expect((await enroll({ token: i % 2 === 0 ? 'ds1.forged' : forged }, '127.0.0.9')).status).toBe(401);
    expect((await enroll('{', '127.0.0.9')).status).toBe(400);
    for (const body of [{ token: forged }, { token: 'ds1.forged' }, '{']) {
      const held = await enroll(body, '127.0.0.9');
      expect(held.status).toBe(429);
      expect(held.json.errorCode).toBe(ErrorCode.ThrottledEnroll);
      expect(Number(held.headers['retry-after'])).toBeGreaterThan(290);
    }
    expect((await enroll({ token: forged }, '127.0.0.10')).status).toBe(401);
    expect(await deviceExists('enr-limited')).toBe(false);
    // Behind a balancer or a NAT every device shares the address: garbage from it must not lock them out.
    expect((await enroll({ token: t.token }, '127.0.0.9')).status).toBe(200);
    expect((await enroll({ token: t.token }, '127.0.0.9')).json.errorCode).toBe(ErrorCode.EnrollmentTokenUsed);
  });
});
