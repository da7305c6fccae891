/**
 * Session recording through the real console: asciicast files written as the session runs, the size
 * budget, input recording off by default, who may read and delete, live view, retention.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, session, until, type TerminalSession } from './console-client.js';
import { startAgent, startHub, startShellServer, stopAll, tempDir, type HubHandle } from './harness.js';

const PASSWORD = 'recording-admin-pw';
let hub: HubHandle;
let shellMap = '';
let c: ConsoleClient;
let admin: string;

async function openShell(cookie: string, device = 'rec-dev'): Promise<TerminalSession & { streamId: string }> {
  const s = session(c.terminalSocket(device, cookie));
  await s.hello(80, 24);
  await until(() => s.statuses.some((t) => t.includes('"connected"')), 10_000, 'terminal connected');
  const connected = s.statuses.map((t) => JSON.parse(t) as { phase?: string; streamId?: string }).find((m) => m.phase === 'connected');
  return Object.assign(s, { streamId: connected?.streamId ?? '' });
}

async function cast(streamId: string, cookie = admin): Promise<string> {
  const r = await c.call('GET', `/api/recordings/${streamId}/cast`, { cookie });
  expect(r.status).toBe(200);
  return r.text;
}

beforeAll(async () => {
  hub = await startHub(['--recording-budget-mib', '0.5'], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: PASSWORD });
  c = new ConsoleClient(hub);
  shellMap = (await startShellServer()).map;
  await startAgent(hub, 'rec-dev', [shellMap]);
  admin = await c.login('admin', PASSWORD);
  for (const [name, role] of [['rita', 'operator'], ['otto', 'operator'], ['val', 'viewer']]) {
    expect((await c.call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password`, role } })).status).toBe(201);
  }
});

afterAll(stopAll);

describe('session recording', () => {
  it('records output, resizes and the exit code as asciicast v2, linked from the history', async () => {
    const rita = await c.login('rita', 'rita-password');
    const s = await openShell(rita);
    s.type('echo rec-$((6*7))\n');
    await until(() => /rec-42/.test(s.output()));
    s.resize(100, 30);
    s.type("printf 'utf8: \\xc3\\xb1 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80\\n'; stty size\n");
    await until(() => /30 100/.test(s.output()));
    s.type('exit 3\n');
    await s.closed;
    await until(async () => (await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: rita })).json !== undefined && !((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: rita })).json as { live: boolean }).live);
    const info = (await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: rita })).json as Record<string, unknown>;
    expect(info).toMatchObject({ streamId: s.streamId, deviceId: 'rec-dev', operator: 'rita', truncated: false, inputRecorded: false, live: false, cols: 80, rows: 24 });
    const text = await cast(s.streamId, rita);
    const [headerLine, ...lines] = text.trimEnd().split('\n');
    expect(JSON.parse(headerLine ?? '{}')).toMatchObject({ version: 2, width: 80, height: 24, title: 'rita@rec-dev' });
    const events = lines.map((l) => JSON.parse(l) as [number, string, string]);
    const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    expect(output).toMatch(/rec-42/);
    expect(output).toContain('utf8: ñ € 😀');
    expect(events).toContainEqual([expect.any(Number), 'r', '100x30']);
    expect(events.at(-1)).toEqual([expect.any(Number), 'm', 'exit 3']);
    expect(events.every((e, i) => i === 0 || e[0] >= (events[i - 1]?.[0] ?? 0))).toBe(true);
    expect(info.size).toBe(Buffer.byteLength(text));
    const hist = (await c.call('GET', '/api/streams?deviceId=rec-dev&operator=rita', { cookie: rita })).json as { streams: Array<{ streamId: string; recording: unknown }> };
    expect(hist.streams.find((r) => r.streamId === s.streamId)?.recording).toMatchObject({ size: info.size, truncated: false, live: false });
  });

  it('stops recording at the size budget with a marker while the session goes on', async () => {
    const s = await openShell(admin);
    s.type("head -c 1500000 /dev/zero | tr '\\0' x; echo; echo still-alive-$((1+1))\n");
    await until(() => /still-alive-2/.test(s.output()), 30_000, 'session output after the budget');
    s.type('exit\n');
    await s.closed;
    await until(async () => !((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json as { live: boolean }).live);
    const info = (await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json as { truncated: boolean; size: number };
    expect(info.truncated).toBe(true);
    expect(info.size).toBeLessThan(0.5 * 1024 * 1024 + 1024);
    const text = await cast(s.streamId);
    expect(text).toContain('"m","recording truncated: size budget reached"');
    expect(text).not.toContain('still-alive-2');
  });

  it('keeps keystrokes typed at a read -s prompt out of the file unless an admin turns input recording on', async () => {
    const rita = await c.login('rita', 'rita-password');
    const secretRun = async (secret: string): Promise<string> => {
      const s = await openShell(rita);
      // Type the secret only once read -s has turned echo off (its prompt is printed after that).
      s.type("read -s -p 'Password: ' PW; echo got-${#PW}\n");
      await until(() => /Password: $/.test(s.output()), 10_000, 'the read -s prompt');
      s.type(`${secret}\n`);
      await until(() => new RegExp(`got-${secret.length}`).test(s.output()));
      s.type('exit\n');
      await s.closed;
      await until(async () => !((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: rita })).json as { live: boolean }).live);
      return cast(s.streamId, rita);
    };
    expect((await c.call('GET', '/api/settings', { cookie: rita })).json).toEqual({ recordInput: false });
    const off = await secretRun('hunter2-secret');
    expect(off).not.toContain('hunter2');
    expect(off).not.toMatch(/"i",/);

    expect((await c.call('PUT', '/api/settings', { cookie: rita, body: { recordInput: true } })).status).toBe(403);
    expect((await c.call('PUT', '/api/settings', { cookie: admin, body: { recordInput: true } })).json).toEqual({ recordInput: true });
    try {
      const on = await secretRun('swordfish-secret');
      expect(on).toMatch(/"i","s/);
      expect(on.match(/"i","([^"]*)"/g)?.map((m) => (JSON.parse(`[${m}]`) as string[])[1]).join('')).toContain('swordfish-secret');
    } finally {
      await c.call('PUT', '/api/settings', { cookie: admin, body: { recordInput: false } });
    }
  });

  it('lets viewers replay, operators only their own, and only admins delete — a deleted file is gone', async () => {
    const rita = await c.login('rita', 'rita-password');
    const s = await openShell(rita);
    s.type('echo mine\nexit\n');
    await s.closed;
    await until(async () => !((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: rita })).json as { live: boolean }).live);
    const val = await c.login('val', 'val-password');
    const otto = await c.login('otto', 'otto-password');
    expect((await c.call('GET', `/api/recordings/${s.streamId}/cast`, { cookie: val })).status).toBe(200);
    expect((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: otto })).status).toBe(403);
    expect((await c.call('GET', `/api/recordings/${s.streamId}/cast`, { cookie: otto })).status).toBe(403);
    expect((await c.call('DELETE', `/api/recordings/${s.streamId}`, { cookie: val })).status).toBe(403);
    expect((await c.call('DELETE', `/api/recordings/${s.streamId}`, { cookie: rita })).status).toBe(403);
    const day = new Date().toISOString().slice(0, 10);
    const candidates = [day, new Date(Date.now() - 86400_000).toISOString().slice(0, 10)].map((d) => join(hub.dataDir, 'recordings', d, `${s.streamId}.cast`));
    const file = candidates.find((p) => existsSync(p));
    expect(file).toBeDefined();
    expect((await c.call('DELETE', `/api/recordings/${s.streamId}`, { cookie: admin })).status).toBe(204);
    expect(existsSync(file ?? '')).toBe(false);
    expect((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).status).toBe(404);
  });

  it('lets an admin watch a live session read-only', async () => {
    const rita = await c.login('rita', 'rita-password');
    const s = await openShell(rita);
    s.type('echo before-watch-$((2*3))\n');
    await until(() => /before-watch-6/.test(s.output()));
    const otto = await c.login('otto', 'otto-password');
    const refused = c.terminalSocket(s.streamId, otto, c.origin, '/api/terminal/watch');
    const status = await new Promise<number>((resolve) => {
      refused.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      refused.on('open', () => resolve(101));
      refused.on('error', () => undefined);
    });
    expect(status).toBe(403);

    const w = session(c.terminalSocket(s.streamId, admin, c.origin, '/api/terminal/watch'));
    await until(() => /before-watch-6/.test(w.output()), 10_000, 'catch-up output');
    expect(w.output()).toContain('[resize 80x24]');
    const marker = join(tempDir(), 'watcher-typed');
    w.type(`touch ${marker}\n`);
    s.type('echo during-watch-$((3*3))\n');
    await until(() => /during-watch-9/.test(w.output()), 10_000, 'live output');
    s.type('exit 0\n');
    expect((await w.closed).code).toBe(1000);
    expect(existsSync(marker)).toBe(false);
    const notLive = session(c.terminalSocket(s.streamId, admin, c.origin, '/api/terminal/watch'));
    expect((await notLive.closed).code).toBe(4104);
  });

  it('serves a corrupted file as it is and keeps running', async () => {
    const s = await openShell(admin);
    s.type('echo soon-corrupt\nexit\n');
    await s.closed;
    await until(async () => !((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json as { live: boolean }).live);
    const day = new Date().toISOString().slice(0, 10);
    const path = join(hub.dataDir, 'recordings', day, `${s.streamId}.cast`);
    writeFileSync(path, `${readFileSync(path, 'utf8').slice(0, 40)}\u0000garbage[1,`);
    const r = await c.call('GET', `/api/recordings/${s.streamId}/cast`, { cookie: admin });
    expect(r.status).toBe(200);
    expect(r.text).toContain('garbage');
    expect((await c.call('GET', '/api/me', { cookie: admin })).status).toBe(200);
  });
});

describe('recording retention', () => {
  it('deletes recordings past the retention period', async () => {
    const dataDir = tempDir();
    const env = { DEVICESTREAMS_ADMIN_PASSWORD: PASSWORD };
    // 0.00005 days = 4.3 s.
    const h = await startHub(['--recording-retention-days', '0.00005'], dataDir, env);
    const cc = new ConsoleClient(h);
    await startAgent(h, 'ret-dev', [shellMap]);
    const cookie = await cc.login('admin', PASSWORD);
    const s = session(cc.terminalSocket('ret-dev', cookie));
    await s.hello();
    await until(() => s.statuses.some((t) => t.includes('"connected"')));
    const streamId = (s.statuses.map((t) => JSON.parse(t) as { streamId?: string }).find((m) => m.streamId !== undefined)?.streamId) ?? '';
    s.type('echo keep-me-briefly\nexit\n');
    await s.closed;
    await until(async () => (await cc.call('GET', `/api/recordings/${streamId}`, { cookie })).status === 200);
    h.proc.kill('SIGTERM');
    await h.proc.exited;
    await new Promise((r) => setTimeout(r, 4500));
    const again = await startHub(['--recording-retention-days', '0.00005'], dataDir, env);
    const c2 = new ConsoleClient(again);
    const cookie2 = await c2.login('admin', PASSWORD);
    expect((await c2.call('GET', `/api/recordings/${streamId}`, { cookie: cookie2 })).status).toBe(404);
  }, 60_000);
});
