/**
 * The operator console across the nodes of a cluster: a login made through one node works through
 * the other, a terminal opened through one node reaches a device held by the other, an admin on one
 * node watches a session the other bridges, a recording made through one node replays from the
 * other, revoking an operator through one node ends their terminal on the other at once, and
 * failed logins count against a name on every node together.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../shared/console-protocol.js';
import { ConsoleClient, session, until, type TerminalSession } from './console-client.js';
import { startAgent, startShellServer, stopAll } from './harness.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

const ADMIN_PASSWORD = 'cluster-console-admin';
let c: TestCluster;
/** A console client per node, each talking to that node's own address. */
const consoles: ConsoleClient[] = [];

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2, env: { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  for (const n of c.nodes) consoles.push(new ConsoleClient({ ...c.handle, url: n.url }));
  // The device's control channel lives on node 1.
  await startAgent(c.handle, 'cc-dev', [(await startShellServer()).map], ['--hub-url', c.nodes[0]?.url ?? '']);
  const admin = await (consoles[0] as ConsoleClient).login('admin', ADMIN_PASSWORD);
  for (const name of ['olga', 'otto']) {
    expect((await (consoles[0] as ConsoleClient).call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password`, role: 'operator' } })).status).toBe(201);
  }
}, 120_000);

afterAll(stopAll);

const node = (i: number): ConsoleClient => consoles[i] as ConsoleClient;

async function openTerminal(on: ConsoleClient, cookie: string): Promise<TerminalSession & { streamId: string }> {
  const s = session(on.terminalSocket('cc-dev', cookie));
  await s.hello(100, 30);
  await until(() => s.statuses.some((t) => t.includes('"connected"')), 10_000, 'terminal connected');
  const streamId = s.statuses.map((t) => JSON.parse(t) as { streamId?: string }).find((m) => m.streamId !== undefined)?.streamId ?? '';
  return Object.assign(s, { streamId });
}

describe('the console across nodes', () => {
  it('keeps a login made through node 1 working through node 2', async () => {
    const cookie = await node(0).login('olga', 'olga-password');
    expect((await node(1).call('GET', '/api/me', { cookie })).json).toEqual({ name: 'olga', role: 'operator' });
    expect((await node(1).call('POST', '/api/logout', { cookie })).status).toBe(204);
    expect((await node(0).call('GET', '/api/me', { cookie })).status).toBe(401);
  });

  it('opens a terminal through node 2 on a device held by node 1', async () => {
    const cookie = await node(1).login('olga', 'olga-password');
    const s = await openTerminal(node(1), cookie);
    s.type('echo cross-$((20+22))\n');
    await until(() => /cross-42/.test(s.output()), 10_000, 'output through node 2');
    s.type('exit\n');
    await s.closed;
  });

  it("lets an admin on node 2 watch, live, a session node 1 bridges: the screen so far, then what follows, then its end", async () => {
    const operator = await node(0).login('olga', 'olga-password');
    const s = await openTerminal(node(0), operator);
    s.type('echo before-watch-$((1+1))\n');
    await until(() => /before-watch-2/.test(s.output()), 10_000, 'output before the watch');
    const admin = await node(1).login('admin', ADMIN_PASSWORD);
    const w = session(node(1).terminalSocket(s.streamId, admin, node(1).origin, '/api/terminal/watch'));
    await until(() => w.statuses.some((t) => t.includes('"connected"')), 10_000, 'watch connected');
    await until(() => /before-watch-2/.test(w.output()), 5000, 'the screen so far');
    expect(w.output()).toContain('[resize 100x30]');
    s.type('echo during-watch-$((3+3))\n');
    await until(() => /during-watch-6/.test(w.output()), 5000, 'live output');
    s.type('exit\n');
    await s.closed;
    const closed = await w.closed;
    expect(closed.code).toBe(1000);
    expect(w.statuses.some((t) => t.includes('"ended"'))).toBe(true);
  });

  it('replays and downloads through node 2 a recording made through node 1', async () => {
    const operator = await node(0).login('olga', 'olga-password');
    const s = await openTerminal(node(0), operator);
    s.type('echo recorded-$((5*5))\nexit\n');
    await s.closed;
    const admin = await node(1).login('admin', ADMIN_PASSWORD);
    await until(async () => ((await node(1).call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json as { live?: boolean } | undefined)?.live === false, 10_000, 'the recording finished');
    const info = (await node(1).call('GET', `/api/recordings/${s.streamId}`, { cookie: admin })).json as { size: number; operator: string };
    expect(info.operator).toBe('olga');
    const cast = await node(1).call('GET', `/api/recordings/${s.streamId}/cast`, { cookie: admin });
    expect(cast.status).toBe(200);
    expect(cast.text).toMatch(/recorded-25/);
    expect(Buffer.byteLength(cast.text)).toBe(info.size);
  });

  it("ends an operator's terminal on node 1 within 1 s when an admin on node 2 changes their role", async () => {
    const cookie = await node(0).login('otto', 'otto-password');
    const s = await openTerminal(node(0), cookie);
    const admin = await node(1).login('admin', ADMIN_PASSWORD);
    const t0 = Date.now();
    expect((await node(1).call('PATCH', '/api/operators/otto', { cookie: admin, body: { role: 'viewer' } })).status).toBe(200);
    const closed = await s.closed;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(closed.code).toBe(ConsoleCloseCode.Revoked);
  });
  it('counts failed logins for a name across both nodes: five wrong passwords split over them, then the sixth is refused (429) through either', async () => {
    for (let i = 0; i < 5; i++) expect((await node(i % 2).call('POST', '/api/login', { body: { username: 'nobody-here', password: `wrong-${i}` } })).status).toBe(401);
    for (const n of [0, 1]) {
      const limited = await node(n).call('POST', '/api/login', { body: { username: 'nobody-here', password: 'wrong-again' } });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Another name from the same address is not held back by it.
    expect((await node(1).call('POST', '/api/login', { body: { username: 'olga', password: 'olga-password' } })).status).toBe(200);
  });
});
