/**
 * The console against an attacker: parallel password guesses, a name hammered to lock its owner
 * out, malformed paths, an operator whose access is taken away while their terminal is open, and a
 * new account that reuses a deleted operator's name. Real hub process, real shell server.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../shared/console-protocol.js';
import { session, startConsoleHub, until, type Answer, type ConsoleClient, type TerminalSession } from './console-client.js';
import { CLI, sleep, startAgent, startShellServer, stopAll, type HubHandle } from './harness.js';

const ADMIN_PASSWORD = 'console-hardening-pw';
let hub: HubHandle;
let c: ConsoleClient;
let admin: string;

beforeAll(async () => {
  ({ hub, client: c, admin } = await startConsoleHub(ADMIN_PASSWORD));
  await startAgent(hub, 'hard-dev', [(await startShellServer()).map]);
});

afterAll(stopAll);

async function addOperator(name: string, role: 'admin' | 'operator' | 'viewer'): Promise<void> {
  const r = await c.call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password`, role } });
  expect(r.status).toBe(201);
}

async function openTerminal(cookie: string): Promise<TerminalSession & { streamId: string }> {
  const s = session(c.terminalSocket('hard-dev', cookie));
  await s.hello();
  await until(() => s.statuses.some((t) => t.includes('"connected"')), 10_000, 'terminal connected');
  const streamId = s.statuses.map((t) => JSON.parse(t) as { streamId?: string }).find((m) => m.streamId !== undefined)?.streamId ?? '';
  return Object.assign(s, { streamId });
}

describe('login rate limits', () => {
  it('counts every attempt before checking it: of 30 parallel wrong guesses for one name, 5 get an answer and one more per doubling delay the burst outlasted', async () => {
    await addOperator('target1', 'operator');
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.call('POST', '/api/login', { body: { username: 'target1', password: `guess-${i}` }, from: '127.0.0.31' })),
    );
    // Five failures are free; then 1 s, 2 s, 4 s … after the last: a burst that took T s to arrive
    // on a loaded machine may see ⌊log2(T + 1)⌋ more. Counting after the check would answer all 30.
    const extra = Math.floor(Math.log2((Date.now() - t0) / 1000 + 1));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5 + extra);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(25 - extra);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
  });

  it('of 30 parallel wrong guesses for 30 names from one address, at most 20 get an answer', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.call('POST', '/api/login', { body: { username: `nobody-${i}`, password: 'guess' }, from: '127.0.0.32' })),
    );
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(20);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(10);
  });

  it('does not lock an owner out at an address they logged in from, and slows the guesser by a delay that doubles', async () => {
    await addOperator('owner1', 'admin');
    await c.login('owner1', 'owner1-password', '127.0.0.33'); // the owner's usual address
    for (let i = 0; i < 5; i++) {
      expect((await c.call('POST', '/api/login', { body: { username: 'owner1', password: `x${i}` }, from: '127.0.0.34' })).status).toBe(401);
    }
    const first = await c.call('POST', '/api/login', { body: { username: 'owner1', password: 'x5' }, from: '127.0.0.34' });
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('1');
    // The owner, at their known address, gets in with the right password meanwhile.
    expect((await c.call('POST', '/api/login', { body: { username: 'owner1', password: 'owner1-password' }, from: '127.0.0.33' })).status).toBe(200);
    // From an address never used for this name, even the right password waits.
    expect((await c.call('POST', '/api/login', { body: { username: 'owner1', password: 'owner1-password' }, from: '127.0.0.35' })).status).toBe(429);
    await sleep(1100);
    expect((await c.call('POST', '/api/login', { body: { username: 'owner1', password: 'x6' }, from: '127.0.0.34' })).status).toBe(401);
    const second = await c.call('POST', '/api/login', { body: { username: 'owner1', password: 'x7' }, from: '127.0.0.34' });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('2');
  });
});

describe('a flood of password checks from many addresses', () => {
  it('refuses checks past what the node queues with 503 login_busy, and checks an owner at a known address ahead of the queue', async () => {
    // Wrong logins, each from its own address for its own name (past the per-address and per-name
    // limits, each would cost a scrypt), kept coming from 60 callers until the admin is answered.
    const answered: string[] = [];
    const busy: Answer[] = [];
    let stop = false;
    let n = 0;
    const caller = async (): Promise<void> => {
      while (!stop) {
        const i = n++;
        const a = await c.call('POST', '/api/login', { body: { username: `flood-${i}`, password: 'guess' }, from: `127.5.${(i >> 8) & 255}.${(i & 255) + 1}` });
        answered.push(String(a.status));
        if (a.status === 503) busy.push(a);
        else expect(a.status).toBe(401);
      }
    };
    const callers = Array.from({ length: 60 }, caller);
    try {
      // The queue is full once the node refuses some.
      await until(() => busy.length > 0, 30_000, 'a login refused as busy');
      const from = answered.length;
      // The admin logged in from this address in beforeAll: it is known for the name.
      const mine = await c.call('POST', '/api/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
      const checkedMeanwhile = answered.slice(from).filter((st) => st === '401').length;
      expect(mine.status).toBe(200);
      // Checked while the admin's waited: those already running, two at a time. First come, first
      // served, it would have waited for the 32 queued before it.
      expect(checkedMeanwhile).toBeLessThan(10);
    } finally {
      stop = true;
      await Promise.all(callers);
    }
    expect(busy[0]?.json).toMatchObject({ error: { code: 'login_busy' } });
    expect(busy[0]?.headers['retry-after']).toBe('1');
  });
});

describe('malformed console paths', () => {
  it('answers 400, not 500, to bad percent-encoding in every console path with a parameter', async () => {
    for (const [method, path] of [
      ['GET', '/api/devices/%'],
      ['GET', '/api/devices/%E0%A4%A'],
      ['PATCH', '/api/operators/%'],
      ['DELETE', '/api/operators/%zz'],
      ['GET', '/api/recordings/%'],
      ['GET', '/api/recordings/%/cast'],
    ] as const) {
      const r = await c.call(method, path, { cookie: admin, ...(method === 'PATCH' ? { body: { role: 'viewer' } } : {}) });
      expect([method, path, r.status]).toEqual([method, path, 400]);
      expect(r.json).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect((await c.call('PUT', '/api/devices/x', { cookie: admin })).status).toBe(405);
  });
});

describe('access taken away while a terminal is open', () => {
  for (const [what, change, message] of [
    ['changes their role', (name: string) => c.call('PATCH', `/api/operators/${name}`, { cookie: admin, body: { role: 'viewer' } }), /changed your role to viewer/],
    ['resets their password', (name: string) => c.call('PATCH', `/api/operators/${name}`, { cookie: admin, body: { password: 'a-new-password' } }), /reset your password/],
    ['deletes their account', (name: string) => c.call('DELETE', `/api/operators/${name}`, { cookie: admin }), /removed your account/],
  ] as const) {
    it(`ends the operator's terminal at once when an admin ${what}`, async () => {
      const name = `op-${what.split(' ')[0] ?? ''}`;
      await addOperator(name, 'operator');
      const s = await openTerminal(await c.login(name, `${name}-password`));
      const t0 = Date.now();
      expect((await change(name)).status).toBeLessThan(300);
      const closed = await s.closed;
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(closed.code).toBe(ConsoleCloseCode.Revoked);
      const err = s.statuses.map((t) => JSON.parse(t) as { type: string; message?: string }).find((m) => m.type === 'error');
      expect(err?.message).toMatch(message);
    });
  }

  it("ends an admin's live watch at once when another admin demotes them", async () => {
    await addOperator('watcher1', 'admin');
    const watcherCookie = await c.login('watcher1', 'watcher1-password');
    const watched = await openTerminal(admin);
    const w = session(c.terminalSocket(watched.streamId, watcherCookie, c.origin, '/api/terminal/watch'));
    await until(() => w.statuses.some((t) => t.includes('"connected"')), 5000, 'watch connected');
    const t0 = Date.now();
    expect((await c.call('PATCH', '/api/operators/watcher1', { cookie: admin, body: { role: 'operator' } })).status).toBe(200);
    expect((await w.closed).code).toBe(ConsoleCloseCode.Revoked);
    expect(Date.now() - t0).toBeLessThan(1000);
    watched.ws.close();
  });

  it('ends the terminal within the 2 s re-check when the change is made with the operator CLI on the server', async () => {
    await addOperator('cli-op', 'operator');
    const s = await openTerminal(await c.login('cli-op', 'cli-op-password'));
    execFileSync(process.execPath, [CLI, 'operator', 'set-role', 'cli-op', '--role', 'viewer', '--data-dir', hub.dataDir]);
    // From the moment the change is in the store (the CLI has exited; its own start-up, up to a
    // second on a busy machine, is not the console's delay).
    const t0 = Date.now();
    const closed = await s.closed;
    // Re-check every 2 s; a change lands at most one interval plus the check itself later.
    expect(Date.now() - t0).toBeLessThan(2000 + 500);
    expect(closed.code).toBe(ConsoleCloseCode.Revoked);
  });
});

describe('recordings and account names', () => {
  it("does not let a new account that reuses a deleted operator's name replay that operator's sessions", async () => {
    await addOperator('reused', 'operator');
    const first = await c.login('reused', 'reused-password');
    const s = await openTerminal(first);
    s.type('echo private-$((2*21))\nexit\n');
    await s.closed;
    await until(async () => (await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: first })).status === 200, 5000, 'recording listed');
    expect((await c.call('DELETE', '/api/operators/reused', { cookie: admin })).status).toBe(204);
    await addOperator('reused', 'operator');
    const second = await c.login('reused', 'reused-password');
    expect((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: second })).status).toBe(403);
    expect((await c.call('GET', `/api/recordings/${s.streamId}/cast`, { cookie: second })).status).toBe(403);
    // Admins still see it, under the name it was recorded with.
    expect((await c.call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json).toMatchObject({ operator: 'reused' });
  });
});

describe('a page that pings without reading', () => {
  it("gets its pings answered only while it reads: of 1,000,000 sent while paused it receives under half (the sockets’ buffers hold about a fifth), and pongs again once it reads", async () => {
    const s = await openTerminal(admin);
    const pongs = (): number => s.statuses.filter((t) => t.startsWith('{"type":"pong"')).length;
    s.ws.pause();
    const N = 1_000_000;
    const ping = '{"type":"ping","t":1}';
    for (let i = 0; i < N; i++) {
      s.ws.send(ping);
      if (s.ws.bufferedAmount > 1024 * 1024) await until(() => s.ws.bufferedAmount < 256 * 1024, 60_000, 'the pings sent');
    }
    await until(() => s.ws.bufferedAmount === 0, 60_000, 'the pings sent');
    // Let the hub read them all before this side reads anything.
    await sleep(2000);
    s.ws.resume();
    let seen = -1;
    await until(async () => {
      const n = pongs();
      if (n === seen) return true;
      seen = n;
      await sleep(1000);
      return false;
    }, 60_000, 'the pongs to stop coming');
    // Each unread pong used to wait at the hub: all 1,000,000 came once the page read again.
    expect(pongs()).toBeLessThan(N / 2);
    const before = pongs();
    s.ws.send('{"type":"ping","t":2}');
    await until(() => s.statuses.includes('{"type":"pong","t":2}'), 10_000, 'a pong to a ping sent while reading');
    expect(pongs()).toBe(before + 1);
    s.ws.close();
    await s.closed;
  });
});
