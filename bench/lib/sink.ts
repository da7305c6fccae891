/**
 * The benchmark target (bench/fixtures/sink-server.mjs) and the client side of its modes. The same
 * client code drives every path (direct, `ssh -L`, `devicestreams proxy`), so only the path differs.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { spawnProc, type Proc } from '../../test/harness.js';
import { nowMs } from './util.js';

const SINK = join(import.meta.dirname, '..', 'fixtures', 'sink-server.mjs');
const CHUNK = randomBytes(1024 * 1024);

export async function startSink(): Promise<{ proc: Proc; port: number }> {
  const proc = spawnProc(process.execPath, [SINK]);
  const m = await proc.waitFor(/PORT (\d+)/);
  return { proc, port: Number(m[1]) };
}

function header(mode: 'U' | 'D' | 'S' | 'E', n: number): Buffer {
  const b = Buffer.alloc(9);
  b.write(mode, 0, 'latin1');
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

export function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with the first `n` bytes the socket delivers (as one Buffer); leaves it paused. */
function readExactly(s: Socket, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      chunks.push(d);
      got += d.length;
      if (got >= n) done();
    };
    const onEnd = (): void => done(new Error(`connection closed after ${got} of ${n} bytes`));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('end', onEnd);
      s.removeListener('error', onEnd);
      s.pause();
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onEnd);
    s.resume();
  });
}

/**
 * Sends `n` bytes through `port` to the sink; the clock runs from the sink's "ready" (the path is
 * set up) to its "all arrived". Returns seconds.
 */
export async function upload(port: number, n: number, timeoutMs = 600_000): Promise<number> {
  const s = await connect(port);
  try {
    s.write(header('U', n));
    await readExactly(s, 1, 30_000);
    const t0 = nowMs();
    const acked = readExactly(s, 1, timeoutMs);
    // Awaited below; a failure while we are still writing must not count as unhandled meanwhile.
    acked.catch(() => undefined);
    let left = n;
    while (left > 0) {
      const len = Math.min(left, CHUNK.length);
      left -= len;
      if (!s.write(len === CHUNK.length ? CHUNK : CHUNK.subarray(0, len))) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            s.removeListener('close', onClose);
            resolve();
          };
          const onClose = (): void => {
            s.removeListener('drain', onDrain);
            reject(new Error(`connection closed after ${n - left} of ${n} bytes were written`));
          };
          s.once('drain', onDrain);
          s.once('close', onClose);
        });
      }
    }
    await acked;
    return (nowMs() - t0) / 1000;
  } finally {
    s.destroy();
  }
}

/** Receives `n` bytes from the sink through `port`; the clock starts when we say "go". Seconds. */
export async function download(port: number, n: number, timeoutMs = 600_000): Promise<number> {
  const s = await connect(port);
  try {
    s.write(header('D', n));
    await readExactly(s, 1, 30_000);
    const t0 = nowMs();
    const got = await new Promise<number>((resolve, reject) => {
      let count = 0;
      const timer = setTimeout(() => reject(new Error(`download: ${count} of ${n} bytes after ${timeoutMs} ms`)), timeoutMs);
      s.on('data', (d: Buffer) => {
        count += d.length;
        if (count >= n) {
          clearTimeout(timer);
          resolve(count);
        }
      });
      s.once('close', () => {
        clearTimeout(timer);
        if (count >= n) resolve(count);
        else reject(new Error(`download: connection closed after ${count} of ${n} bytes`));
      });
      s.resume();
      s.write('G');
    });
    if (got < n) throw new Error(`download: ${got} of ${n} bytes`);
    return (nowMs() - t0) / 1000;
  } finally {
    s.destroy();
  }
}

/** An open echo connection: `ping()` sends one byte and resolves with the round trip in ms. */
export interface EchoConnection {
  ping(): Promise<number>;
  close(): void;
}

/** Opens a connection to an echo service through `port` (plain echo, or the sink's "E" mode). */
export async function openEcho(port: number, sinkHeader: boolean): Promise<EchoConnection> {
  const s = await connect(port);
  if (sinkHeader) s.write(header('E', 0));
  let waiter: ((t: number) => void) | undefined;
  let failed: Error | undefined;
  let rejecter: ((e: Error) => void) | undefined;
  s.on('data', (d: Buffer) => {
    // One byte out, one byte back; a coalesced read still completes the ping in flight.
    const t = nowMs();
    if (d.length > 0 && waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      rejecter = undefined;
      w(t);
    }
  });
  const fail = (e: Error): void => {
    failed = e;
    rejecter?.(e);
  };
  s.on('error', fail);
  s.on('close', () => fail(new Error('echo connection closed')));
  const byte = Buffer.from('x');
  const conn: EchoConnection = {
    ping() {
      if (failed !== undefined) return Promise.reject(failed);
      return new Promise<number>((resolve, reject) => {
        const t0 = nowMs();
        waiter = (t) => resolve(t - t0);
        rejecter = reject;
        s.write(byte);
      });
    },
    close() {
      s.destroy();
    },
  };
  // The first round trip goes through stream setup on a proxy; keep it out of the samples.
  await conn.ping();
  return conn;
}

/**
 * Offers up to `max` bytes to the sink's slow reader (at `rate` bytes/s) for `seconds`; resolves
 * with the bytes the local socket accepted (written into the kernel) in that time.
 */
export async function offerToSlowReader(port: number, rate: number, seconds: number, max: number): Promise<{ accepted: number; socket: Socket }> {
  const s = await connect(port);
  s.write(header('S', rate));
  let written = 0;
  let stop = false;
  let wake: (() => void) | undefined;
  const timer = setTimeout(() => {
    stop = true;
    wake?.();
  }, seconds * 1000);
  s.on('error', () => undefined);
  while (!stop && written < max && !s.destroyed) {
    const ok = s.write(CHUNK);
    written += CHUNK.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const onDrain = (): void => {
          wake = undefined;
          resolve();
        };
        wake = () => {
          s.removeListener('drain', onDrain);
          resolve();
        };
        s.once('drain', onDrain);
      });
    }
  }
  clearTimeout(timer);
  // What is still in Node's own buffer was not accepted by the path.
  return { accepted: written - s.writableLength, socket: s };
}

/**
 * Asks the sink for `max` bytes and reads them at `rate` bytes/s for `seconds`; resolves with the
 * bytes read.
 */
export async function readSlowly(port: number, rate: number, seconds: number, max: number): Promise<{ read: number; socket: Socket }> {
  const s = await connect(port);
  s.on('error', () => undefined);
  s.write(header('D', max));
  await readExactly(s, 1, 30_000);
  let read = 0;
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  s.on('data', (d: Buffer) => {
    read += d.length;
    const wait = t0 + (read / rate) * 1000 - Date.now();
    if (wait > 0) {
      s.pause();
      timer = setTimeout(() => s.resume(), wait);
    }
  });
  s.write('G');
  s.resume();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearTimeout(timer);
  s.pause();
  return { read, socket: s };
}
