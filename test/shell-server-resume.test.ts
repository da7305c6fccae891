/**
 * Resumable sessions of the shell server (protocol version 2) with real PTYs over real sockets: a
 * dropped connection leaves the shell running, a reattach with the secret gets what it printed
 * meanwhile, input offsets make every keystroke arrive exactly once, wrong secrets and expired
 * sessions are refused with a reason, takeovers, gaps, and version-1 sessions as before.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShellServer, type ShellServer } from '../device/shell-server.js';
import { processRunning } from '../device/shell/pty.js';
import {
  FrameDecoder,
  SessionCloseCode,
  TERMINAL_PROTOCOL_VERSION,
  TERMINAL_RESUMABLE_VERSION,
  encodeFrame,
  type HelloSession,
  type TerminalFrame,
} from '../shared/terminal-protocol.js';
import { sleep, stopAll } from './harness.js';

const baseEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
const shellEnv = { ...baseEnv, PS1: '$ ' };
const shellOptions = { host: '127.0.0.1', port: 0, shell: '/bin/bash', args: ['--norc', '--noprofile'], env: shellEnv };

/** A client of one connection: every frame it received, the output as text, and its input so far. */
interface Conn {
  socket: Socket;
  frames: TerminalFrame[];
  /** Output of this connection as text. */
  text(): string;
  /** DATA bytes received on this connection. */
  received(): number;
  closed: Promise<void>;
  send(f: TerminalFrame): void;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  frame<T extends TerminalFrame['type']>(type: T, timeoutMs?: number): Promise<Extract<TerminalFrame, { type: T }>>;
}

function open(port: number, hello: { version: number; session?: HelloSession }): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = new FrameDecoder();
    const frames: TerminalFrame[] = [];
    let text = '';
    let received = 0;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        frames.push(f);
        if (f.type === 'data') {
          received += f.data.length;
          text += Buffer.from(f.data).toString('utf8');
        }
      }
    });
    const c: Conn = {
      socket,
      frames,
      text: () => text,
      received: () => received,
      closed,
      send: (f) => socket.write(encodeFrame(f)),
      async waitFor(re, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const m = re.exec(text);
          if (m !== null) return m;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; output so far:\n${JSON.stringify(text.slice(-2000))}`);
          await sleep(20);
        }
      },
      async frame(type, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const f = frames.find((x) => x.type === type);
          if (f !== undefined) return f as Extract<TerminalFrame, { type: typeof type }>;
          if (Date.now() > deadline) throw new Error(`no ${type.toUpperCase()} frame within ${timeoutMs} ms; got ${frames.map((x) => x.type).join(', ')}`);
          await sleep(10);
        }
      },
    };
    socket.once('connect', () => {
      c.send({ type: 'hello', version: hello.version, cols: 80, rows: 24, term: 'xterm-256color', ...(hello.session === undefined ? {} : { session: hello.session }) });
      resolve(c);
    });
    socket.once('error', reject);
  });
}

/**
 * A client of one resumable session across connections, keeping what a browser keeps: the output
 * it has (as the shell printed it, replays stitched on at their offsets) and every input byte it
 * sent, so that after a reattach it sends exactly the input the server did not get.
 */
class SessionClient {
  conn: Conn;
  id = '';
  secret: Uint8Array = new Uint8Array(0);
  output = '';
  outputBytes = 0;
  input: number[] = [];
  /** Output of earlier connections of this session. */
  #before = '';
  #beforeBytes = 0;
  gaps: number[] = [];

  private constructor(conn: Conn) {
    this.conn = conn;
  }

  static async start(port: number): Promise<SessionClient> {
    const c = new SessionClient(await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'new' } }));
    const s = await c.conn.frame('session');
    c.id = s.sessionId;
    c.secret = s.secret;
    return c;
  }

  /** Output over every connection so far. */
  text(): string {
    return this.#before + this.conn.text();
  }

  async waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text());
      if (m !== null) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; output so far:\n${JSON.stringify(this.text().slice(-2000))}`);
      await sleep(20);
    }
  }

  type(line: string): void {
    this.sendInput(Buffer.from(`${line}\r`));
  }

  sendInput(bytes: Uint8Array): void {
    this.input.push(...bytes);
    this.conn.send({ type: 'data', data: bytes });
  }

  /** Drops the connection as a network loss would (nothing more is read or written on it). */
  drop(): void {
    this.#before += this.conn.text();
    this.#beforeBytes += this.conn.received();
    this.conn.socket.resetAndDestroy();
  }

  /** Reattaches; resends the input the server did not get; returns the ATTACHED frame. */
  async reattach(port: number, secret = this.secret): Promise<Extract<TerminalFrame, { type: 'attached' }>> {
    const offset = this.#beforeBytes;
    this.conn = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: this.id, secret, outputOffset: offset, inputOffset: this.input.length } });
    const a = await this.conn.frame('attached');
    if (a.outputOffset > offset) this.gaps.push(a.outputOffset - offset);
    // Never more than we sent: a server that claims more would make us skip keystrokes.
    expect(a.inputReceived).toBeLessThanOrEqual(this.input.length);
    const rest = Uint8Array.from(this.input.slice(a.inputReceived));
    if (rest.length > 0) this.conn.send({ type: 'data', data: rest });
    return a;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processRunning(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

let server: ShellServer;
let port: number;
const logs: string[] = [];

beforeAll(async () => {
  server = createShellServer({ ...shellOptions, detachTimeoutMs: 60_000, log: (line) => logs.push(line) });
  port = (await server.listen()).port;
});

afterAll(async () => {
  await server.close();
  await stopAll();
});

describe('shell server: resumable sessions', () => {
  it('announces a session before any output, and a dropped connection leaves the same shell running with what it printed meanwhile', async () => {
    const s = await SessionClient.start(port);
    expect(s.conn.frames[0]).toMatchObject({ type: 'session', detachTimeoutSeconds: 60 });
    expect(s.id).toMatch(/^[0-9a-f]{32}$/);
    expect(s.secret).toHaveLength(32);
    s.type('echo PID=$$');
    const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
    s.type('for i in 1 2 3 4 5; do echo tick-$i; sleep 0.3; done');
    await s.waitFor(/tick-1/);
    const at = s.conn.received();
    s.drop();
    await sleep(2000);
    expect(processRunning(pid)).toBe(true);
    expect(server.detached).toBeGreaterThanOrEqual(1);

    const attached = await s.reattach(port);
    expect(attached.outputOffset).toBe(at);
    await s.waitFor(/tick-5/);
    // Each tick once: what was seen before the drop is not sent again, what came after is replayed.
    for (let i = 1; i <= 5; i++) expect(s.text().match(new RegExp(`^tick-${i}\\r$`, 'gm')), `tick-${i}`).toHaveLength(1);
    s.type('echo PID=$$');
    await s.waitFor(/PID=\d+[\s\S]*PID=(\d+)/);
    const pids = [...s.text().matchAll(/^PID=(\d+)\r$/gm)].map((m) => Number(m[1]));
    expect(pids).toEqual([pid, pid]);
    s.type('exit 0');
    await s.conn.closed;
    expect(s.conn.frames.at(-1)).toEqual({ type: 'exit', code: 0 });
  });

  it('writes every keystroke exactly once when the connection drops mid-frame, before the server has read everything', async () => {
    const s = await SessionClient.start(port);
    s.type('stty -echo; echo ready-$((1+1))');
    await s.waitFor(/ready-2/);
    // One whole frame, then half of the next: the server writes the first and discards the half.
    const first = Buffer.from('echo once-A\r');
    const second = Buffer.from('echo once-B\r');
    s.sendInput(first);
    s.input.push(...second);
    const frame = encodeFrame({ type: 'data', data: second });
    s.conn.socket.write(frame.subarray(0, 8));
    await s.waitFor(/^once-A\r$/m);
    s.drop();
    const a = await s.reattach(port);
    expect(a.inputReceived).toBe(s.input.length - second.length);
    await s.waitFor(/^once-B\r$/m);
    s.type('echo done-$((2+3))');
    await s.waitFor(/done-5/);
    expect(s.text().match(/^once-A\r$/gm)).toHaveLength(1);
    expect(s.text().match(/^once-B\r$/gm)).toHaveLength(1);
    s.type('exit');
    await s.conn.closed;
  });

  it('writes every keystroke exactly once across many drops at random points of a stream of input', async () => {
    const s = await SessionClient.start(port);
    s.type('stty -echo; echo ready-$((2+2))');
    await s.waitFor(/ready-4/);
    const lines = 300;
    let next = 1;
    for (let round = 0; round < 6; round++) {
      // A burst of keystrokes, one frame each as a browser sends them, then a reset after a random few.
      const burst = 30 + Math.floor(Math.random() * 40);
      for (let i = 0; i < burst && next <= lines; i++, next++) s.type(`echo key-${next}`);
      await sleep(Math.random() * 20);
      s.drop();
      await s.reattach(port);
    }
    while (next <= lines) s.type(`echo key-${next++}`);
    s.type('echo all-sent');
    await s.waitFor(/^all-sent\r$/m, 20_000);
    const seen = new Map<number, number>();
    for (const m of s.text().matchAll(/^key-(\d+)\r$/gm)) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
    const wrong = [...Array(lines).keys()].map((i) => i + 1).filter((k) => seen.get(k) !== 1);
    expect(wrong, 'keys not seen exactly once').toEqual([]);
    expect(s.gaps).toEqual([]);
    s.type('exit');
    await s.conn.closed;
  });

  it('refuses a wrong secret with a clear reason and keeps the session for the right one', async () => {
    const s = await SessionClient.start(port);
    s.type('echo before-$((3*3))');
    await s.waitFor(/before-9/);
    s.drop();
    const wrong = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: s.id, secret: new Uint8Array(32).fill(1), outputOffset: 0, inputOffset: 0 } });
    expect(await wrong.frame('close')).toEqual({ type: 'close', code: SessionCloseCode.BadSecret, message: expect.stringMatching(/secret does not match/) as unknown });
    await wrong.closed;
    expect(wrong.frames.map((f) => f.type)).toEqual(['close']);
    const none = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: '0'.repeat(32), secret: s.secret, outputOffset: 0, inputOffset: 0 } });
    expect(await none.frame('close')).toMatchObject({ code: SessionCloseCode.Unknown, message: expect.stringMatching(/no such session/) as unknown });
    await s.reattach(port);
    s.type('echo after-$((4*4))');
    await s.waitFor(/after-16/);
    s.type('exit');
    await s.conn.closed;
  });

  it('lets a second attach take the session over; the first connection is told and let go', async () => {
    const s = await SessionClient.start(port);
    s.type('echo one-$((5*5))');
    await s.waitFor(/one-25/);
    const first = s.conn;
    const other = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: s.id, secret: s.secret, outputOffset: first.received(), inputOffset: s.input.length } });
    await other.frame('attached');
    expect(await first.frame('close')).toMatchObject({ code: SessionCloseCode.TakenOver, message: expect.stringMatching(/another connection attached/) as unknown });
    await first.closed;
    // Input from the old connection is no longer the session's; the new one's is.
    other.send({ type: 'data', data: Buffer.from('echo two-$((6*6))\r') });
    await other.waitFor(/two-36/);
    other.send({ type: 'data', data: Buffer.from('exit\r') });
    await other.closed;
  });

  it('replays from the oldest output it still has and says where: the client sees the gap', async () => {
    const small = createShellServer({ ...shellOptions, detachTimeoutMs: 60_000, replayBufferBytes: 64 * 1024 });
    const p = (await small.listen()).port;
    try {
      // 300 kB of output from a job that starts after the drop, into a ring of 64 KiB.
      const s = await SessionClient.start(p);
      s.type("sleep 0.5; head -c 300000 /dev/zero | tr '\\0' x; echo; echo big-$((1+1))-end");
      // The command line's echo: it has arrived.
      await s.waitFor(/big-\$\(\(1\+1\)\)-end/);
      s.drop();
      await sleep(2500);
      const a = await s.reattach(p);
      expect(a.outputOffset).toBeGreaterThan(300_000 - 64 * 1024);
      expect(s.gaps).toHaveLength(1);
      await s.waitFor(/big-2-end/);
      // The replay is exactly the last 64 KiB.
      expect(s.conn.received()).toBe(64 * 1024);
      s.conn.socket.destroy();
    } finally {
      await small.close();
    }
  });

  it('hands a shell that exited while detached its last output and exit status, then forgets it with the reason', async () => {
    const s = await SessionClient.start(port);
    s.type('sleep 0.5; echo last-words; exit 7');
    await sleep(100);
    s.drop();
    await sleep(1500);
    await s.reattach(port);
    await s.conn.closed;
    expect(s.text()).toMatch(/last-words/);
    expect(s.conn.frames.at(-1)).toEqual({ type: 'exit', code: 7 });
    const again = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: s.id, secret: s.secret, outputOffset: 0, inputOffset: 0 } });
    expect(await again.frame('close')).toMatchObject({ code: SessionCloseCode.Exited, message: expect.stringMatching(/exited with code 7/) as unknown });
  });

  it('ends a session on request (mode end): the shell is hung up, an attached client is told, later attaches are refused', async () => {
    const s = await SessionClient.start(port);
    s.type('echo PID=$$');
    const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
    const ender = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'end', sessionId: s.id, secret: s.secret } });
    expect(await ender.frame('close')).toMatchObject({ code: SessionCloseCode.Ended });
    expect(await s.conn.frame('close')).toMatchObject({ code: SessionCloseCode.Ended, message: expect.stringMatching(/ended from the console/) as unknown });
    expect(await waitGone(pid, 5000)).toBe(true);
    const later = await open(port, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: s.id, secret: s.secret, outputOffset: 0, inputOffset: 0 } });
    expect(await later.frame('close')).toMatchObject({ code: SessionCloseCode.Ended });
  });

  it('past the detach timeout the shell is hung up (gone by pid) and a reattach is refused as expired', async () => {
    const quick = createShellServer({ ...shellOptions, detachTimeoutMs: 1500, killGraceMs: 500, log: (line) => logs.push(line) });
    const p = (await quick.listen()).port;
    try {
      const s = await SessionClient.start(p);
      expect(s.conn.frames[0]).toMatchObject({ type: 'session', detachTimeoutSeconds: 2 });
      s.type('echo PID=$$');
      const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
      // A foreground job that ignores SIGHUP is killed too.
      s.type("sh -c 'trap \"\" HUP; echo CHILD=$$; exec sleep 1000'");
      const child = Number((await s.waitFor(/CHILD=(\d+)/))[1]);
      s.drop();
      await sleep(1000);
      expect(processRunning(pid)).toBe(true);
      expect(await waitGone(pid, 3000)).toBe(true);
      expect(await waitGone(child, 3000)).toBe(true);
      const late = await open(p, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: s.id, secret: s.secret, outputOffset: 0, inputOffset: 0 } });
      expect(await late.frame('close')).toEqual({ type: 'close', code: SessionCloseCode.Expired, message: 'The session was left detached for more than 2 s; its shell was hung up.' });
      expect(quick.detached).toBe(0);
      expect(logs.some((l) => /detached for 2 s; hanging up shell pid/.test(l))).toBe(true);
    } finally {
      await quick.close();
    }
  });

  it('with no room for a new shell, ends the session detached longest; with none detached, refuses with a reason', async () => {
    const two = createShellServer({ ...shellOptions, detachTimeoutMs: 60_000, maxSessions: 2 });
    const p = (await two.listen()).port;
    try {
      const a = await SessionClient.start(p);
      a.drop();
      await sleep(50);
      const b = await SessionClient.start(p);
      b.drop();
      const c = await SessionClient.start(p);
      c.type('echo c-$((8*8))');
      await c.waitFor(/c-64/);
      const back = await open(p, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'attach', sessionId: a.id, secret: a.secret, outputOffset: 0, inputOffset: 0 } });
      expect(await back.frame('close')).toMatchObject({ code: SessionCloseCode.Ended, message: expect.stringMatching(/make room/) as unknown });
      await b.reattach(p);
      // Both shells attached now: a third is refused.
      const d = await open(p, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'new' } });
      await d.closed;
      expect(d.frames).toEqual([{ type: 'close', code: SessionCloseCode.Full, message: expect.stringMatching(/already runs 2 terminal sessions/) as unknown }]);
    } finally {
      await two.close();
    }
  });

  it('a version-1 HELLO gets a plain session as before: no announcement, and a dropped connection hangs up the shell', async () => {
    const c = await open(port, { version: TERMINAL_PROTOCOL_VERSION });
    c.send({ type: 'data', data: Buffer.from('echo PID=$$\r') });
    const pid = Number((await c.waitFor(/PID=(\d+)/))[1]);
    expect(c.frames.every((f) => f.type === 'data')).toBe(true);
    c.socket.destroy();
    expect(await waitGone(pid, 4000)).toBe(true);
  });

  it('with detach timeout 0 a version-2 HELLO gets a plain session', async () => {
    const plain = createShellServer({ ...shellOptions, detachTimeoutMs: 0 });
    const p = (await plain.listen()).port;
    try {
      const c = await open(p, { version: TERMINAL_RESUMABLE_VERSION, session: { mode: 'new' } });
      c.send({ type: 'data', data: Buffer.from('echo PID=$$\r') });
      const pid = Number((await c.waitFor(/PID=(\d+)/))[1]);
      expect(c.frames.every((f) => f.type === 'data')).toBe(true);
      c.socket.destroy();
      expect(await waitGone(pid, 4000)).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
