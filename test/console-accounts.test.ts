/**
 * The console's account actions against a real hub process: an account changes its own password
 * with the current one (kept logged in, other sessions ended), an admin cannot reset their own
 * password, and an online device's row carries when its connection began.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleDevice, Me } from '../shared/console-api.js';
import { startConsoleHub, type ConsoleClient } from './console-client.js';
import { startAgent, stopAll, type HubHandle } from './harness.js';

const ADMIN_PASSWORD = 'console-accounts-pw';
let hub: HubHandle;
let c: ConsoleClient;
let admin: string;

beforeAll(async () => {
  ({ hub, client: c, admin } = await startConsoleHub(ADMIN_PASSWORD));
});

afterAll(stopAll);

const cookieOf = (headers: IncomingHttpHeaders): string => headers['set-cookie']?.[0]?.split(';')[0] ?? '';

async function addAccount(name: string, password: string, role: 'admin' | 'operator' | 'viewer'): Promise<void> {
  const r = await c.call('POST', '/api/operators', { cookie: admin, body: { name, password, role } });
  expect(r.status, r.text).toBe(201);
}

describe('changing your own password', () => {
  it('needs the current password: a wrong one is 403 wrong_password and the old password still logs in', async () => {
    await addAccount('wendy', 'wendy-password-1', 'admin');
    const cookie = await c.login('wendy', 'wendy-password-1');
    const r = await c.call('POST', '/api/me/password', { cookie, body: { currentPassword: 'not-her-password', newPassword: 'wendy-password-2' } });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: { code: 'wrong_password', message: 'The current password is wrong; your password was not changed.' } });
    await c.login('wendy', 'wendy-password-1');
    await expect(c.login('wendy', 'wendy-password-2')).rejects.toThrow(/answered 401/);
  });

  it('with the right current password: 200 with a new working session cookie, the old cookie and other sessions end, the old password is refused and the new one accepted', async () => {
    await addAccount('carl', 'carl-password-1', 'operator');
    const cookie = await c.login('carl', 'carl-password-1');
    const otherSession = await c.login('carl', 'carl-password-1');
    const r = await c.call('POST', '/api/me/password', { cookie, body: { currentPassword: 'carl-password-1', newPassword: 'carl-password-2' } });
    expect(r.status, r.text).toBe(200);
    expect(r.json as Me).toEqual({ name: 'carl', role: 'operator' });
    const reissued = cookieOf(r.headers);
    expect(reissued).toMatch(/^__Host-ds_session=.{20,}/);
    expect(reissued).not.toBe(cookie);
    expect((await c.call('GET', '/api/me', { cookie: reissued })).status).toBe(200);
    expect((await c.call('GET', '/api/me', { cookie })).status).toBe(401);
    expect((await c.call('GET', '/api/me', { cookie: otherSession })).status).toBe(401);
    await expect(c.login('carl', 'carl-password-1')).rejects.toThrow(/answered 401/);
    await c.login('carl', 'carl-password-2');
  });

  it('refuses a new password shorter than 8 characters with 400 and changes nothing', async () => {
    await addAccount('sam', 'sam-password-1', 'viewer');
    const cookie = await c.login('sam', 'sam-password-1');
    const r = await c.call('POST', '/api/me/password', { cookie, body: { currentPassword: 'sam-password-1', newPassword: 'short' } });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/newPassword.*at least 8/);
    await c.login('sam', 'sam-password-1');
  });

  it('is 401 without a session', async () => {
    const r = await c.call('POST', '/api/me/password', { body: { currentPassword: 'x', newPassword: 'long-enough-1' } });
    expect(r.status).toBe(401);
  });

  it("an admin's reset of their own password (PATCH with a password) is 400 and the password stays", async () => {
    const r = await c.call('PATCH', '/api/operators/admin', { cookie: admin, body: { password: 'admin-reset-pw' } });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/current one/);
    expect((await c.call('GET', '/api/me', { cookie: admin })).status).toBe(200);
    await c.login('admin', ADMIN_PASSWORD);
  });
});

describe('connectedSince', () => {
  it("is the time the device connected while online (between the agent's start and the read), and null for an offline device", async () => {
    await hub.service.createDevice('never-on');
    const before = Date.now();
    await startAgent(hub, 'on-now', []);
    const r = await c.call('GET', '/api/devices', { cookie: admin });
    const after = Date.now();
    expect(r.status, r.text).toBe(200);
    const devices = (r.json as { devices: ConsoleDevice[] }).devices;
    const online = devices.find((d) => d.deviceId === 'on-now');
    expect(online?.online).toBe(true);
    const since = Date.parse(online?.connectedSince ?? '');
    // Second-rounded times in the store: allow one second before the start.
    expect(since).toBeGreaterThanOrEqual(before - 1000);
    expect(since).toBeLessThanOrEqual(after);
    expect(devices.find((d) => d.deviceId === 'never-on')).toMatchObject({ online: false, connectedSince: null });
  });
});

describe('operator names', () => {
  it('refuses a name past 64 characters with 400 saying so in plain words (not the validator\'s own phrasing)', async () => {
    const r = await c.call('POST', '/api/operators', { cookie: admin, body: { name: 'n'.repeat(200), password: 'long-enough-pw', role: 'operator' } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { message: 'name: at most 64 characters.' } });
  });

  it("refuses a name that differs from an existing one only in letter case with 409 exists, saying so, and the existing account's login still works", async () => {
    await addAccount('carol', 'carol-password', 'operator');
    const r = await c.call('POST', '/api/operators', { cookie: admin, body: { name: 'Carol', password: 'other-password', role: 'admin' } });
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({ error: { code: 'exists', message: expect.stringMatching(/other letter case/) as unknown } });
    const list = await c.call('GET', '/api/operators', { cookie: admin });
    expect((list.json as { operators: Array<{ name: string }> }).operators.map((o) => o.name).filter((n) => n.toLowerCase() === 'carol')).toEqual(['carol']);
    expect((await c.call('POST', '/api/login', { body: { username: 'carol', password: 'carol-password' } })).status).toBe(200);
  });
});
