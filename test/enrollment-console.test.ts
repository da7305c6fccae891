/**
 * "Add device" through the console API against a real hub: admins get the install command (whose
 * token works once at POST /enroll) and nothing of the hub's credentials; operators and viewers are
 * refused; a request from another origin is refused; the device list shows the agent's version.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleDevice, ConsoleEnrollmentToken, DevicePage } from '../shared/console-api.js';
import { postJson } from '../shared/http-json.js';
import { CLI, spawnCli, stopAll, type HubHandle } from './harness.js';
import { startConsoleHub, until, type ConsoleClient } from './console-client.js';

let hub: HubHandle;
let client: ConsoleClient;
let admin: string;

beforeAll(async () => {
  ({ hub, client, admin } = await startConsoleHub('enroll-console-pw'));
  // The console's own policy key must never reach the browser either.
  const consoleCs = execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'console', '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host], { encoding: 'utf8' }).trim();
  client.secrets.push(consoleCs.split('SharedAccessKey=')[1] ?? 'never', 'SharedAccessKey');
  for (const [name, role] of [['enr-op', 'operator'], ['enr-viewer', 'viewer']] as const) {
    expect((await client.call('POST', '/api/operators', { cookie: admin, body: { name, password: 'password-1', role } })).status).toBe(201);
  }
});
afterAll(stopAll);

const spec = { target: 'console-dev', tags: { site: 'plant-2' }, maps: ['shell', 'ssh=127.0.0.1:22'], ttlSeconds: 600 };

describe('Add device in the console API', () => {
  it('gives an admin the install command and expiry, whitelisted, with a token that registers the device once', async () => {
    const r = await client.call('POST', '/api/enrollment-tokens', { cookie: admin, body: spec });
    expect(r.status).toBe(200);
    const t = r.json as ConsoleEnrollmentToken;
    expect(Object.keys(t).sort()).toEqual(['expiresAt', 'installCommand', 'maps', 'pattern', 'tags', 'target']);
    expect(t).toMatchObject({ target: 'console-dev', pattern: false, tags: { site: 'plant-2' }, maps: ['shell', 'ssh=127.0.0.1:22'] });
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    const token = /--token (ds1\.\S+)/.exec(t.installCommand)?.[1] ?? '';
    expect(await postJson(`${hub.url}/enroll`, {}, { token }, { ca: hub.ca })).toMatchObject({ deviceId: 'console-dev' });
    await expect(postJson(`${hub.url}/enroll`, {}, { token }, { ca: hub.ca })).rejects.toMatchObject({ code: 409002 });
    // The hub recorded who asked: the console's policy, on behalf of this admin.
    const db = new Database(join(hub.dataDir, 'hub.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT created_by, used_by FROM enrollment_tokens WHERE target = 'console-dev'").get()).toEqual({ created_by: 'console (admin)', used_by: 'console-dev' });
    } finally {
      db.close();
    }
  });

  it('refuses operators and viewers (403), no session (401), and another origin or none (403)', async () => {
    for (const name of ['enr-op', 'enr-viewer']) {
      const cookie = await client.login(name, 'password-1');
      const r = await client.call('POST', '/api/enrollment-tokens', { cookie, body: spec });
      expect(r.status, name).toBe(403);
      expect(r.json).toEqual({ error: { code: 'forbidden', message: 'Your role may not add devices.' } });
    }
    expect((await client.call('POST', '/api/enrollment-tokens', { body: spec })).status).toBe(401);
    for (const origin of ['https://evil.example', null]) {
      const r = await client.call('POST', '/api/enrollment-tokens', { cookie: admin, origin, body: spec });
      expect(r.status).toBe(403);
      expect((r.json as { error: { code: string } }).error.code).toBe('bad_origin');
    }
  });

  it('names the field of a bad request, and says why the hub refuses a device', async () => {
    const bad = await client.call('POST', '/api/enrollment-tokens', { cookie: admin, body: { ...spec, maps: ['ssh=localhost'] } });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/^maps: service "ssh=localhost" needs HOST:PORT/);
    expect((await client.call('POST', '/api/enrollment-tokens', { cookie: admin, body: { ...spec, ttlSeconds: 90_000 } })).status).toBe(400);
    await hub.service.createDevice('console-off');
    await hub.service.updateDevice('console-off', { status: 'disabled' });
    const refused = await client.call('POST', '/api/enrollment-tokens', { cookie: admin, body: { ...spec, target: 'console-off' } });
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({ error: { code: 'enrollment_refused', message: expect.stringMatching(/^device "console-off" is disabled; enable it/) as unknown } });
  });

  it('shows each device\'s agent (name and version) and the stream names it serves once it has connected', async () => {
    const cs = await hub.service.deviceConnectionString('console-dev');
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', 'echo=127.0.0.1:9', '--map', 'http=127.0.0.1:9'], { DEVICE_CONNECTION_STRING: cs });
    await agent.waitFor(/connected to the hub/);
    let row: ConsoleDevice | undefined;
    await until(async () => {
      row = ((await client.call('GET', '/api/devices?search=console-dev', { cookie: admin })).json as DevicePage).devices[0];
      return row?.agent != null;
    }, 10_000, 'agent shown');
    expect(row).toMatchObject({ deviceId: 'console-dev', online: true, agent: 'devicestreams-agent/0.1.0', services: ['echo', 'http'] });
    // The hub's registry answer carries them too (GET /devices/{id}).
    expect((await hub.service.getDevice('console-dev'))).toMatchObject({ services: ['echo', 'http'] });
    const never = ((await client.call('GET', '/api/devices?search=console-off', { cookie: admin })).json as DevicePage).devices[0];
    expect(never?.agent).toBeNull();
    expect(never?.services).toBeNull();
  });
});
