/**
 * Resumable terminals through the real console (hub, agent and shell server as processes): the
 * BFF keeps each session's secret and hands the page only its id, reattaches a session for its own
 * operator only, lists and ends sessions, records a session across its connections as one
 * recording with markers, and says "ended" once the device has let a session go.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TerminalSessionInfo, TerminalSessionList } from '../shared/console-api.js';
import { ConsoleCloseCode, parseConsoleStatus, type ConsoleStatus } from '../shared/console-protocol.js';
import { processRunning } from '../device/shell/pty.js';
import { FrameDecoder, TERMINAL_RESUMABLE_VERSION, encodeFrame, type HelloSession, type TerminalFrame } from '../shared/terminal-protocol.js';
import { ConsoleClient, until } from './console-client.js';
import { sleep, startAgent, startHub, startShellServer, stopAll, type HubHandle } from './harness.js';

const PASSWORD = 'resume-admin-password';
const SHELL_ARGS = ['--shell', '/bin/bash', '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', 'PS1=$ '];
let hub: HubHandle;
let c: ConsoleClient;
let admin: string;
let rita: string;
let otto: string;

/** One page's terminal socket: every frame and status it got. */
class Tab {
  readonly ws: WebSocket;
  readonly frames: TerminalFrame[] = [];
  readonly statuses: ConsoleStatus[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #decoder = new FrameDecoder();
  #text = '';
  #received = 0;

  constructor(device: string, cookie: string, session?: string) {
    const q = new URLSearchParams({ deviceId: device, cols: '80', rows: '24', ...(session === undefined ? {} : { session }) });
    this.ws = new WebSocket(`${hub.url.replace(/^http/, 'ws')}/api/terminal?${q.toString()}`, { headers: { origin: c.origin, cookie }, ca: hub.ca });
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (!isBinary) {
        const s = parseConsoleStatus(buf.toString());
        if (s !== undefined) this.statuses.push(s);
        return;
      }
      for (const f of this.#decoder.push(new Uint8Array(buf))) {
        this.frames.push(f);
        if (f.type === 'data') {
          this.#received += f.data.length;
          this.#text += Buffer.from(f.data).toString('utf8');
        }
      }
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens the socket and sends a version-2 HELLO. */
  static async open(device: string, cookie: string, session: HelloSession, urlSession?: string): Promise<Tab> {
    const t = new Tab(device, cookie, urlSession);
    await new Promise<void>((resolve, reject) => {
      t.ws.once('open', () => resolve());
      t.ws.once('close', () => reject(new Error('the terminal socket closed before it opened')));
    });
    t.send({ type: 'hello', version: TERMINAL_RESUMABLE_VERSION, cols: 80, rows: 24, term: 'xterm-256color', session });
    return t;
  }

  send(f: TerminalFrame): void {
    this.ws.send(encodeFrame(f));
  }

  type(line: string): void {
    this.send({ type: 'data', data: Buffer.from(`${line}\r`) });
  }

  text(): string {
    return this.#text;
  }

  received(): number {
    return this.#received;
  }

  async waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    let m: RegExpMatchArray | null = null;
    await until(() => (m = re.exec(this.#text)) !== null, ms, `${String(re)} in ${JSON.stringify(this.#text.slice(-500))}`);
    return m as unknown as RegExpMatchArray;
  }

  async frame<T extends TerminalFrame['type']>(type: T, ms = 10_000): Promise<Extract<TerminalFrame, { type: T }>> {
    await until(() => this.frames.some((f) => f.type === type), ms, `a ${type} frame (got ${this.frames.map((f) => f.type).join(',')})`);
    return this.frames.find((f) => f.type === type) as Extract<TerminalFrame, { type: T }>;
  }

  streamId(): string {
    for (const s of this.statuses) if (s.type === 'status' && s.phase !== 'requesting') return s.streamId;
    return '';
  }

  /** The browser's side of a reattach: its offsets, and ATTACHED back. */
  static async reattach(device: string, cookie: string, sessionId: string, outputOffset: number, inputOffset: number): Promise<Tab> {
    return Tab.open(device, cookie, { mode: 'attach', sessionId, secret: new Uint8Array(0), outputOffset, inputOffset }, sessionId);
  }
}

async function sessions(cookie: string, all = false): Promise<TerminalSessionInfo[]> {
  const r = await c.call('GET', `/api/terminal-sessions${all ? '?all=true' : ''}`, { cookie });
  expect(r.status, r.text).toBe(200);
  return (r.json as TerminalSessionList).sessions;
}

async function pidOf(t: Tab, tag: string): Promise<number> {
  t.type(`echo ${tag}=$$`);
  return Number((await t.waitFor(new RegExp(`^${tag}=(\\d+)\\r$`, 'm')))[1]);
}

beforeAll(async () => {
  hub = await startHub(['--terminal-connect-timeout', '5'], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: PASSWORD });
  c = new ConsoleClient(hub);
  const shell = await startShellServer([...SHELL_ARGS, '--detach-timeout', '60']);
  await startAgent(hub, 'res-dev', [shell.map]);
  const quick = await startShellServer([...SHELL_ARGS, '--detach-timeout', '3']);
  await startAgent(hub, 'res-quick', [quick.map]);
  admin = await c.login('admin', PASSWORD);
  for (const name of ['rita', 'otto']) expect((await c.call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password`, role: 'operator' } })).status).toBe(201);
  rita = await c.login('rita', 'rita-password');
  otto = await c.login('otto', 'otto-password');
});

afterAll(stopAll);

describe('resumable terminals through the console', () => {
  it('hands the page the session id without its secret, keeps the shell when the page goes, and reattaches it with what it printed meanwhile', async () => {
    const t = await Tab.open('res-dev', rita, { mode: 'new' });
    const announced = await t.frame('session');
    expect(announced.secret).toHaveLength(0);
    expect(announced.detachTimeoutSeconds).toBe(60);
    const pid = await pidOf(t, 'PID');
    expect((await sessions(rita)).find((s) => s.sessionId === announced.sessionId)).toMatchObject({ deviceId: 'res-dev', operator: 'rita', attached: true, detachedAt: null, recordingId: t.streamId() });
    expect((await sessions(otto)).map((s) => s.sessionId)).not.toContain(announced.sessionId);
    t.type('for i in 1 2 3 4; do echo tick-$i; sleep 0.4; done');
    await t.waitFor(/^tick-1\r$/m);
    const offset = t.received();
    const started = Date.now();
    t.ws.terminate();
    await until(async () => (await sessions(rita)).find((s) => s.sessionId === announced.sessionId)?.attached === false, 5000, 'listed as detached');
    const listed = (await sessions(rita)).find((s) => s.sessionId === announced.sessionId);
    expect(Date.parse(listed?.expiresAt ?? '') - Date.parse(listed?.detachedAt ?? '')).toBe(60_000);
    await sleep(2000);
    expect(processRunning(pid)).toBe(true);

    const back = await Tab.reattach('res-dev', rita, announced.sessionId, offset, 0);
    const attached = await back.frame('attached');
    console.log(`console reattach: ATTACHED ${Date.now() - started} ms after the page dropped (2 s of it waiting on purpose)`);
    expect(attached.outputOffset).toBe(offset);
    await back.waitFor(/^tick-4\r$/m);
    expect(back.text()).not.toMatch(/^tick-1\r$/m);
    expect(await pidOf(back, 'AGAIN')).toBe(pid);
    expect((await sessions(rita)).find((s) => s.sessionId === announced.sessionId)?.attached).toBe(true);
    back.type('exit 4');
    expect((await back.closed).code).toBe(1000);
    expect(back.frames.at(-1)).toEqual({ type: 'exit', code: 4 });
    await until(async () => !(await sessions(rita)).some((s) => s.sessionId === announced.sessionId), 5000, 'forgotten once its shell exited');

    // One recording across both connections, with a marker at the gap.
    const recordingId = t.streamId();
    await until(async () => ((await c.call('GET', `/api/recordings/${recordingId}`, { cookie: rita })).json as { live?: boolean }).live === false, 10_000, 'recording finished');
    const cast = (await c.call('GET', `/api/recordings/${recordingId}/cast`, { cookie: rita })).text;
    const events = cast.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    for (let i = 1; i <= 4; i++) expect(output.match(new RegExp(`^tick-${i}\\r$`, 'gm')), `tick-${i} recorded once`).toHaveLength(1);
    const markers = events.filter((e) => e[1] === 'm').map((e) => e[2]);
    expect(markers).toEqual([expect.stringMatching(/^detached/), expect.stringMatching(/^reattached after \d+\.\d s detached$/), 'exit 4']);
    expect(cast.split('\n').filter((l) => l.startsWith('{"version"'))).toHaveLength(1);
    const hist = (await c.call('GET', `/api/recordings/${back.streamId()}`, { cookie: rita })).status;
    expect(hist).toBe(404);
  });

  it('lets a reattach take over a session a page still holds; the first page is told', async () => {
    const first = await Tab.open('res-dev', rita, { mode: 'new' });
    const { sessionId } = await first.frame('session');
    await pidOf(first, 'ONE');
    const second = await Tab.reattach('res-dev', rita, sessionId, 0, 0);
    await second.frame('attached');
    // A fresh page asks for everything: it gets the session's output so far.
    await second.waitFor(/^ONE=\d+\r$/m);
    expect((await first.closed).code).toBe(ConsoleCloseCode.TakenOver);
    expect(first.frames.at(-1)).toMatchObject({ type: 'close', message: expect.stringMatching(/another connection attached/) as unknown });
    expect(first.statuses.at(-1)).toMatchObject({ type: 'error', code: ConsoleCloseCode.TakenOver });
    second.type('exit');
    await second.closed;
  });

  it('reattaches a session for its own operator only, on its own device; unknown and malformed ids are ended sessions', async () => {
    const t = await Tab.open('res-dev', rita, { mode: 'new' });
    const { sessionId } = await t.frame('session');
    await pidOf(t, 'MINE');
    t.ws.close();
    await until(async () => (await sessions(rita)).find((s) => s.sessionId === sessionId)?.attached === false, 5000, 'detached');

    const other = new Tab('res-dev', otto, sessionId);
    expect(await other.closed).toMatchObject({ code: ConsoleCloseCode.Forbidden });
    expect(other.statuses.at(-1)).toMatchObject({ message: 'This terminal session belongs to another operator.' });
    const wrongDevice = new Tab('res-quick', rita, sessionId);
    expect((await wrongDevice.closed).code).toBe(ConsoleCloseCode.NotFound);
    const unknown = new Tab('res-dev', rita, randomBytes(16).toString('hex'));
    expect((await unknown.closed).code).toBe(ConsoleCloseCode.SessionEnded);
    const malformed = new Tab('res-dev', rita, 'not-a-session');
    expect((await malformed.closed).code).toBe(ConsoleCloseCode.SessionEnded);
    // A HELLO that names another session than the socket was opened for is refused.
    const mismatch = await Tab.open('res-dev', rita, { mode: 'attach', sessionId: 'a'.repeat(32), secret: new Uint8Array(0), outputOffset: 0, inputOffset: 0 }, sessionId);
    expect((await mismatch.closed).code).toBe(ConsoleCloseCode.Internal);

    // Otto may not end it; an admin may, and then it is gone for good.
    expect((await c.call('DELETE', `/api/terminal-sessions/${sessionId}`, { cookie: otto })).status).toBe(403);
    expect((await c.call('GET', '/api/terminal-sessions?all=true', { cookie: otto })).status).toBe(403);
    expect((await sessions(admin, true)).map((s) => s.sessionId)).toContain(sessionId);
    expect((await c.call('DELETE', `/api/terminal-sessions/${sessionId}`, { cookie: admin })).status).toBe(204);
    expect((await sessions(rita)).map((s) => s.sessionId)).not.toContain(sessionId);
    expect((await c.call('DELETE', `/api/terminal-sessions/${sessionId}`, { cookie: admin })).status).toBe(404);
    const after = new Tab('res-dev', rita, sessionId);
    expect((await after.closed).code).toBe(ConsoleCloseCode.SessionEnded);
  });

  it('an admin ending a session that a page has open: the page is told, the shell is gone', async () => {
    const t = await Tab.open('res-dev', rita, { mode: 'new' });
    const { sessionId } = await t.frame('session');
    const pid = await pidOf(t, 'ENDME');
    expect((await c.call('DELETE', `/api/terminal-sessions/${sessionId}`, { cookie: admin })).status).toBe(204);
    expect((await t.closed).code).toBe(ConsoleCloseCode.SessionEnded);
    expect(t.statuses.at(-1)).toMatchObject({ message: 'The session was ended from the console.' });
    await until(() => !processRunning(pid), 5000, 'the shell gone');
  });

  it('a session left detached past its timeout is ended by the device, and a reattach says so', async () => {
    const t = await Tab.open('res-quick', rita, { mode: 'new' });
    const { sessionId, detachTimeoutSeconds } = await t.frame('session');
    expect(detachTimeoutSeconds).toBe(3);
    const pid = await pidOf(t, 'QUICK');
    t.ws.terminate();
    await until(() => !processRunning(pid), 10_000, 'the shell hung up after the detach timeout');
    const late = await Tab.reattach('res-quick', rita, sessionId, 0, 0);
    const { code } = await late.closed;
    // The console may have swept its row already; either way the page hears the session ended.
    expect(code).toBe(ConsoleCloseCode.SessionEnded);
    const said = late.statuses.find((s) => s.type === 'error');
    expect(said).toMatchObject({ message: expect.stringMatching(/left detached for more than 3 s|has ended/) as unknown });
    await until(async () => !(await sessions(rita)).some((s) => s.sessionId === sessionId), 5000, 'no longer listed');
  });

  it('a version-1 page gets a plain session through the console, as before', async () => {
    const t = new Tab('res-dev', rita);
    await new Promise((r) => t.ws.once('open', r));
    t.send({ type: 'hello', version: 1, cols: 80, rows: 24, term: 'xterm' });
    const pid = await pidOf(t, 'PLAIN');
    expect(t.frames.every((f) => f.type === 'data')).toBe(true);
    t.ws.close();
    await until(() => !processRunning(pid), 5000, 'the plain shell hung up');
  });
});
