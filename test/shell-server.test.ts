/**
 * The shell server with real PTYs over real TCP (port 0): the terminal protocol, flow control,
 * bounded memory against a client that stops reading, and cleanup of abandoned shells.
 */
import { createRequire } from 'node:module';
import { Socket, connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShellServer, type ShellServer } from '../device/shell-server.js';
import { processRunning } from '../device/shell/pty.js';
import { ACK_WINDOW_BYTES, FrameDecoder, TERMINAL_PROTOCOL_VERSION, encodeFrame, type TerminalFrame } from '../shared/terminal-protocol.js';
import { ROOT, sleep, spawnCli, spawnProc, stopAll, tempDir } from './harness.js';
import { waitForAfter } from './fixtures/fault-helpers.js';

const MiB = 1024 * 1024;
const baseEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
const shellEnv = { ...baseEnv, PS1: '$ ' };

interface Client {
  socket: Socket;
  /** The last 256 KiB of terminal output, as text. */
  text(): string;
  /** DATA bytes received so far. */
  received(): number;
  /** Every byte received, frames included. */
  rawBytes(): number;
  exitCode(): number | undefined;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  send(f: TerminalFrame): void;
  type(line: string): void;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function open(port: number | string, hello: { cols: number; rows: number } | null = { cols: 80, rows: 24 }): Promise<Client> {
  return new Promise((resolve, reject) => {
    // A number is a TCP port on loopback; a string the path of a Unix socket.
    const socket = typeof port === 'number' ? connect(port, '127.0.0.1') : connect(port);
    const decoder = new FrameDecoder();
    let text = '';
    let received = 0;
    let raw = 0;
    let exit: number | undefined;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.length;
      for (const f of decoder.push(chunk)) {
        if (f.type === 'data') {
          received += f.data.length;
          text += Buffer.from(f.data).toString('utf8');
          if (text.length > 512 * 1024) text = text.slice(-256 * 1024);
        } else if (f.type === 'exit') {
          exit = f.code;
        }
      }
    });
    const client: Client = {
      socket,
      text: () => text,
      received: () => received,
      rawBytes: () => raw,
      exitCode: () => exit,
      closed,
      send: (f) => socket.write(encodeFrame(f)),
      type: (line) => client.send({ type: 'data', data: new TextEncoder().encode(`${line}\r`) }),
      async waitFor(re, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const m = re.exec(text);
          if (m !== null) return m;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; output so far:\n${JSON.stringify(text.slice(-2000))}`);
          await sleep(20);
        }
      },
    };
    socket.once('connect', () => {
      if (hello !== null) client.send({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, term: 'xterm-256color', ...hello });
      resolve(client);
    });
    socket.once('error', reject);
  });
}

/** Running (not gone, not a zombie: an orphan's zombie waits for init to reap it, which is not ours to do). */
const isAlive = processRunning;

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} did not happen within ${ms} ms`)))]);
}

let server: ShellServer;
let port: number;
const logs: string[] = [];

beforeAll(async () => {
  server = createShellServer({
    host: '127.0.0.1',
    port: 0,
    shell: '/bin/bash',
    args: ['--norc', '--noprofile'],
    env: shellEnv,
    log: (line) => logs.push(line),
  });
  port = (await server.listen()).port;
});

afterAll(async () => {
  await server.close();
  await stopAll();
});

describe('shell server: the terminal protocol', () => {
  it('runs a command typed after HELLO', async () => {
    const c = await open(port);
    c.type('echo hello-$((6*7))');
    await c.waitFor(/hello-42/);
    c.socket.destroy();
  });

  it('applies RESIZE to the PTY', async () => {
    const c = await open(port);
    c.send({ type: 'resize', cols: 100, rows: 40 });
    c.type('stty size');
    await c.waitFor(/40 100/);
    c.socket.destroy();
  });

  it('starts the PTY at the size HELLO gives, with TERM from HELLO', async () => {
    const c = await open(port, { cols: 123, rows: 45 });
    c.type('echo "size=$(stty size) term=$TERM"');
    await c.waitFor(/size=45 123 term=xterm-256color/);
    c.socket.destroy();
  });

  it('sends EXIT with the shell status and closes the connection', async () => {
    const c = await open(port);
    c.type('exit 3');
    await within(c.closed, 10_000, 'close after exit 3');
    expect(c.exitCode()).toBe(3);
  });

  it('delivers everything a shell prints right before it exits', async () => {
    // A burst and an exit straight after it: the last KiBs used to be lost in about half the runs.
    const burst = createShellServer({ host: '127.0.0.1', port: 0, shell: '/bin/sh', args: ['-c', 'head -c 3000000 /dev/urandom | base64; echo END-$((6*7))'], env: shellEnv, log: () => undefined });
    const burstPort = (await burst.listen()).port;
    try {
      for (let run = 0; run < 6; run++) {
        const c = await open(burstPort);
        await within(c.closed, 20_000, `close after the burst (run ${run})`);
        expect(c.exitCode()).toBe(0);
        // 3,000,000 bytes are 4,000,000 base64 characters in 76-column lines, each ended CR LF.
        expect(c.received(), `run ${run}: bytes delivered`).toBe(4_000_000 + 2 * Math.ceil(4_000_000 / 76) + 'END-42\r\n'.length);
        expect(c.text().slice(-20), `run ${run}: the end of the output`).toMatch(/END-42\r\n$/);
      }
    } finally {
      await burst.close();
    }
  });

  it('delivers the end of the output when the shell exits while the client holds it back', async () => {
    // The client turns on ACKs and then acknowledges nothing for a second: the session stops reading
    // the PTY at the window, the rest (a few hundred bytes) waits in the kernel, the shell exits.
    const total = ACK_WINDOW_BYTES + 300;
    const quiet = createShellServer({ host: '127.0.0.1', port: 0, shell: '/bin/sh', args: ['-c', `head -c ${total - 7} /dev/zero | tr '\\0' a; echo; echo END`], env: shellEnv, log: () => undefined });
    const quietPort = (await quiet.listen()).port;
    try {
      const c = await open(quietPort);
      c.send({ type: 'ack', bytes: 0 });
      await sleep(1000);
      if (!c.socket.destroyed) c.send({ type: 'ack', bytes: 4 * ACK_WINDOW_BYTES });
      await within(c.closed, 10_000, 'close after the shell exits');
      expect(c.exitCode()).toBe(0);
      // Every "a", then CR LF, "END", CR LF (onlcr).
      expect(c.received()).toBe(total - 7 + 2 + 5);
      expect(c.text().slice(-20)).toMatch(/a\r\nEND\r\n$/);
    } finally {
      await quiet.close();
    }
  });

  it('reports death by signal as 128 + signal', async () => {
    const c = await open(port);
    c.type('kill -TERM $$; kill -KILL $$');
    await within(c.closed, 10_000, 'close after kill');
    expect([128 + 15, 128 + 9]).toContain(c.exitCode());
  });

  it('closes a connection whose first frame is not HELLO, writing nothing', async () => {
    const c = await open(port, null);
    c.type('echo should-not-run');
    await within(c.closed, 5000, 'close');
    expect(c.rawBytes()).toBe(0);
    expect(logs.some((l) => /first frame was DATA, expected HELLO/.test(l))).toBe(true);
  });

  it('closes a connection on an unsupported protocol version', async () => {
    const c = await open(port, null);
    c.send({ type: 'hello', version: 99, cols: 80, rows: 24, term: 'xterm' });
    await within(c.closed, 5000, 'close');
    expect(c.rawBytes()).toBe(0);
    expect(logs.some((l) => /unsupported protocol version 99/.test(l))).toBe(true);
  });

  it('closes a connection on a malformed frame, and hangs up its shell', async () => {
    const c = await open(port);
    c.type('echo PID=$$');
    const pid = Number((await c.waitFor(/PID=(\d+)/))[1]);
    // A RESIZE whose payload is 3 bytes instead of 4.
    c.socket.write(Uint8Array.from([1, 0, 0, 0, 3, 0, 80, 0]));
    await within(c.closed, 5000, 'close');
    expect(logs.some((l) => /RESIZE payload must be 4 bytes/.test(l))).toBe(true);
    expect(await waitGone(pid, 3000)).toBe(true);
  });

  it('closes a connection that announces an oversized frame before it arrives', async () => {
    const c = await open(port, null);
    c.socket.write(Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff]));
    await within(c.closed, 5000, 'close');
    expect(c.rawBytes()).toBe(0);
    expect(logs.some((l) => /exceeds the \d+-byte limit/.test(l))).toBe(true);
  });
});

describe('shell server: flow control and cleanup', () => {
  it('stops reading the PTY on PAUSE and continues on RESUME', async () => {
    const c = await open(port);
    c.type('yes | head -c 2000000000');
    while (c.received() < 4 * MiB) await sleep(20);
    c.send({ type: 'pause' });
    // Let what was already in flight (socket buffers, one PTY read) arrive.
    await sleep(700);
    const before = c.received();
    await sleep(1000);
    const whilePaused = c.received() - before;
    expect(whilePaused).toBeLessThan(MiB);
    c.send({ type: 'resume' });
    const resumedAt = c.received();
    const deadline = Date.now() + 10_000;
    while (c.received() - resumedAt < 4 * MiB && Date.now() < deadline) await sleep(20);
    expect(c.received() - resumedAt).toBeGreaterThanOrEqual(4 * MiB);
    c.socket.destroy();
  });

  it('keeps at most the ACK window unacknowledged once the client ACKs, and goes on as it ACKs', async () => {
    const c = await open(port);
    c.send({ type: 'ack', bytes: 0 });
    c.type('yes | head -c 2000000000');
    await sleep(1500);
    const held = c.received();
    // The window, plus at most one PTY read that was under way when it filled.
    expect(held).toBeGreaterThan(ACK_WINDOW_BYTES / 2);
    expect(held).toBeLessThanOrEqual(ACK_WINDOW_BYTES + 128 * 1024);
    await sleep(500);
    expect(c.received()).toBe(held);
    let acked = 0;
    const deadline = Date.now() + 10_000;
    while (c.received() < 8 * MiB && Date.now() < deadline) {
      const now = c.received();
      if (now > acked) {
        c.send({ type: 'ack', bytes: now - acked });
        acked = now;
      }
      await sleep(10);
    }
    expect(c.received()).toBeGreaterThanOrEqual(8 * MiB);
    c.socket.destroy();
  });

  it('holds back a flood for a client that stops reading: what it keeps is at most the socket high-water mark and two coalesced PTY reads (server in its own process)', async () => {
    // The server runs in a process of its own (through tsx, as the CLI does), which reports on a
    // line to its stdin how much it holds in Node Buffers (where output waiting for the client
    // would sit): counted after a full GC, and again after the GC's sweeper has freed what it found.
    const tsx = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;
    const shellServer = pathToFileURL(join(ROOT, 'device', 'shell-server.ts')).href;
    const code = [
      `const { createShellServer } = await import(${JSON.stringify(shellServer)});`,
      `const server = createShellServer({ host: '127.0.0.1', port: 0, shell: '/bin/bash', args: ['--norc', '--noprofile'], env: ${JSON.stringify(shellEnv)} });`,
      `process.stdin.on('data', () => { globalThis.gc(); setTimeout(() => { globalThis.gc(); console.log('HELD ' + process.memoryUsage().arrayBuffers); }, 100); });`,
      `console.log('LISTENING ' + (await server.listen()).port);`,
    ].join('\n');
    const proc = spawnProc(process.execPath, ['--expose-gc', '--import', tsx, '--input-type=module', '-e', code]);
    const held = async (): Promise<number> => {
      const from = proc.output().length;
      proc.child.stdin?.write('\n');
      return Number((await waitForAfter(proc, /HELD (\d+)/, from, 5000))[1]);
    };
    const c = await open(Number((await proc.waitFor(/LISTENING (\d+)/))[1]));
    c.type('echo ready-$((5*5))');
    await c.waitFor(/ready-25/);
    const idle = await held();

    // What the session may keep once the client stops reading (device/shell/session.ts): the PTY is
    // paused as soon as socket.write returns false, i.e. once the socket's writable buffer passes
    // its high-water mark; the write that crossed it was one coalesced DATA frame (under
    // COALESCE_BYTES = 64 KiB of gathered output plus the PTY read that completed it, at most
    // 64 KiB), and one more such frame may be on its way from before the pause took effect.
    const KiB = 1024;
    const window = new Socket().writableHighWaterMark + 2 * (64 * KiB + 64 * KiB);
    // Buffers of the runtime and node-pty's own read buffer beside it (measured: under 100 KiB).
    const RUNTIME_MARGIN = 512 * KiB;
    const bound = window + RUNTIME_MARGIN;
    /** The kernel's socket buffers on both ends take a few MiB before the server sees backpressure. */
    const SETTLE_MS = 500;
    const PAUSED_MS = 4000;

    // Flood with the client reading, and measure the rate at which the output comes.
    c.type('cat /dev/zero | head -c 20000000000 | base64');
    while (c.received() < MiB) await sleep(10);
    const floodFrom = c.received();
    const floodStart = performance.now();
    while (c.received() - floodFrom < 16 * MiB) await sleep(10);
    const rate = (c.received() - floodFrom) / ((performance.now() - floodStart) / 1000);
    // The client stops reading; from here the server must hold the flood back, not buffer it.
    c.socket.pause();
    await sleep(SETTLE_MS);
    let peak = 0;
    for (let waited = SETTLE_MS; waited < PAUSED_MS; waited += 250) {
      peak = Math.max(peak, await held());
      await sleep(150);
    }
    const kept = peak - idle;
    console.log(
      `shell-server: flood at ${(rate / MiB).toFixed(0)} MiB/s; with the client paused for ${PAUSED_MS} ms the server kept ${(kept / KiB).toFixed(0)} KiB in Buffers ` +
        `(bound ${(bound / KiB).toFixed(0)} KiB: ${(window / KiB).toFixed(0)} KiB of flow-control window + ${RUNTIME_MARGIN / KiB} KiB; unbounded it would be ~${((rate * PAUSED_MS) / 1000 / MiB).toFixed(0)} MiB)`,
    );
    // The bound is one an unbounded buffer would cross: at this rate it would pass it many times over.
    expect(rate * ((PAUSED_MS - SETTLE_MS) / 1000), 'what an unbounded buffer would hold at this rate').toBeGreaterThan(10 * bound);
    expect(kept, 'Buffers the server holds while the client is paused').toBeLessThan(bound);

    // The session is held back, not broken: reading again gets the flood going again.
    const at = c.received();
    c.socket.resume();
    const deadline = Date.now() + 10_000;
    while (c.received() - at < 8 * MiB && Date.now() < deadline) await sleep(20);
    expect(c.received() - at).toBeGreaterThanOrEqual(8 * MiB);
    c.socket.destroy();
    proc.kill('SIGTERM');
  });

  it('stops reading the client while the shell leaves its input unread, losing nothing', async () => {
    const c = await open(port);
    const size = 16 * MiB;
    // Raw mode so the kernel queues input instead of discarding a too-long line; the shell sleeps
    // before anything reads it.
    c.type(`stty -echo -icanon; sleep 2; head -c ${size} | wc -c`);
    await c.waitFor(/wc -c\r\n/);
    const chunk = new Uint8Array(60_000).fill(97);
    for (let sent = 0; sent < size; sent += chunk.length) c.send({ type: 'data', data: chunk.subarray(0, Math.min(chunk.length, size - sent)) });
    await sleep(1000);
    // The server holds about inputHighWaterBytes; the rest waits in this client's socket.
    expect(c.socket.writableLength).toBeGreaterThan(8 * MiB);
    await c.waitFor(new RegExp(`\\b${size}\\r\\n`), 20_000);
    c.socket.destroy();
  });

  it('kills the shell (and its foreground job) when the connection closes', async () => {
    const c = await open(port);
    c.type('echo PID=$$');
    const pid = Number((await c.waitFor(/PID=(\d+)/))[1]);
    c.type(`sh -c 'echo CHILD=$$; exec sleep 1000'`);
    const child = Number((await c.waitFor(/CHILD=(\d+)/))[1]);
    expect(isAlive(pid) && isAlive(child)).toBe(true);
    c.socket.destroy();
    expect(await waitGone(pid, 3000)).toBe(true);
    expect(await waitGone(child, 3000)).toBe(true);
  });

  it('refuses connections beyond maxSessions', async () => {
    const small = createShellServer({ port: 0, shell: '/bin/bash', args: ['--norc', '--noprofile'], env: shellEnv, maxSessions: 1, log: (l) => logs.push(l) });
    const p = (await small.listen()).port;
    try {
      const first = await open(p);
      first.type('echo first-$((1+1))');
      await first.waitFor(/first-2/);
      const second = await open(p);
      await within(second.closed, 5000, 'refusal');
      expect(second.rawBytes()).toBe(0);
      expect(logs.some((l) => /1 sessions already open/.test(l))).toBe(true);
      first.type('echo still-$((2+2))');
      await first.waitFor(/still-4/);
    } finally {
      await small.close();
    }
  });

  it('close() hangs up every shell; clients get EXIT', async () => {
    const other = createShellServer({ port: 0, shell: '/bin/bash', args: ['--norc', '--noprofile'], env: shellEnv });
    const p = (await other.listen()).port;
    const c = await open(p);
    c.type('echo up-$((3*3))');
    await c.waitFor(/up-9/);
    await within(other.close(), 5000, 'server close');
    await within(c.closed, 5000, 'client close');
    expect(c.exitCode()).toBe(128 + 1);
  });

  it('as the CLI, serves shells on its Unix socket, holds a flood back for a client that stops reading, and exits 0 on SIGTERM', async () => {
    const path = join(tempDir('ds-shell-cli-'), 'run', 'shell.sock');
    const proc = spawnCli(['shell-server', '--listen', `unix:${path}`, '--shell', '/bin/bash', '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', 'PS1=$ '], { SHELL: '/bin/bash' });
    await proc.waitFor(/LISTENING unix:/);
    const c = await open(path);
    c.type('echo ready-$((5*5))');
    await c.waitFor(/ready-25/);
    c.type('cat /dev/zero | head -c 20000000000 | base64');
    while (c.received() < 2 * MiB) await sleep(20);
    c.socket.pause();
    await sleep(1000);
    // The session is held back, not broken: reading again gets the flood going again.
    const at = c.received();
    c.socket.resume();
    const deadline = Date.now() + 10_000;
    while (c.received() - at < 8 * MiB && Date.now() < deadline) await sleep(20);
    expect(c.received() - at).toBeGreaterThanOrEqual(8 * MiB);
    c.socket.destroy();
    proc.kill('SIGTERM');
    expect(await within(proc.exited, 5000, 'CLI exit on SIGTERM')).toBe(0);
    expect(proc.output()).toMatch(/SIGTERM: closing the shell server/);
  });
});
