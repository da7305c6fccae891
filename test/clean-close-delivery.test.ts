/**
 * A v1 stream (no resume: a close is the end of the stream) that one side ends cleanly while the
 * other side's reader is behind: every byte written before the close still reaches that reader,
 * in both directions. The reader takes a 64 KiB chunk every 2 ms, so the stream holds its readable
 * buffer full (and its leg paused) when the close arrives. A side that never reads still sees the
 * stream close, with an error, once the unread bytes have waited 30 s for a reader.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Writable, type Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceClient, type DeviceClient } from '../device/sdk/device-client.js';
import { ResumableStream } from '../shared/resumable-stream.js';
import { startHub, stopAll, type HubHandle } from './harness.js';

const TOTAL = 4 * 1024 * 1024;
const payload = randomBytes(TOTAL);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let hub: HubHandle;
let device: DeviceClient;
/** What the device side does with each accepted stream (set per test). */
let onDeviceStream: (s: Duplex) => void = () => undefined;
/** A device that answers every stream as v1 (`resumable: false`, as agents before v2 did). */
let v1Device: DeviceClient;
let onV1Stream: (s: Duplex) => void = () => undefined;

beforeAll(async () => {
  hub = await startHub();
  await hub.service.createDevice('close-dev');
  const cs = await hub.service.deviceConnectionString('close-dev');
  device = createDeviceClient(cs, { ca: hub.ca, hubUrl: hub.url });
  device.onStreamRequest(async (req) => onDeviceStream(await req.accept()));
  await device.open();
  await hub.service.createDevice('close-dev-v1');
  v1Device = createDeviceClient(await hub.service.deviceConnectionString('close-dev-v1'), { ca: hub.ca, hubUrl: hub.url, resumable: false });
  v1Device.onStreamRequest(async (req) => onV1Stream(await req.accept()));
  await v1Device.open();
});

afterAll(async () => {
  device.close();
  v1Device.close();
  await stopAll();
});

/** Reads `s` to its end through a slow writable; resolves with what arrived and how it ended. */
function readSlowly(s: Duplex): Promise<{ data: Buffer; ended: boolean; error: string | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        setTimeout(cb, 2);
      },
    });
    s.on('end', () => (ended = true));
    s.on('error', (err) => (error = err.message));
    s.on('close', () => setTimeout(() => resolve({ data: Buffer.concat(chunks), ended, error }), 50));
    s.pipe(slow);
  });
}

describe('a v1 stream ended cleanly while the reader is behind', () => {
  it('delivers all 4 MiB written by the device before it ended, to a slow service-side reader, and ends its readable side', async () => {
    onDeviceStream = (s) => {
      s.on('error', () => undefined);
      s.end(payload);
    };
    const service = await hub.service.initiateStream('close-dev', 'source');
    const got = await readSlowly(service);
    expect(got.error).toBeUndefined();
    expect(got.data.length).toBe(TOTAL);
    expect(sha(got.data)).toBe(sha(payload));
    expect(got.ended).toBe(true);
  });

  it('delivers all 4 MiB written by the service before it ended, to a slow device-side reader, and ends its readable side', async () => {
    const deviceGot = new Promise<Awaited<ReturnType<typeof readSlowly>>>((resolve) => {
      onDeviceStream = (s) => void readSlowly(s).then(resolve);
    });
    const service = await hub.service.initiateStream('close-dev', 'sink');
    service.on('error', () => undefined);
    service.end(payload);
    const got = await deviceGot;
    expect(got.error).toBeUndefined();
    expect(got.data.length).toBe(TOTAL);
    expect(sha(got.data)).toBe(sha(payload));
    expect(got.ended).toBe(true);
  });

  it('ends a side that only writes and never reads what arrived with an error naming the unread bytes, no sooner than 29 s after the close', async () => {
    onDeviceStream = (s) => {
      s.on('error', () => undefined);
      s.end(Buffer.alloc(64 * 1024, 1));
    };
    const service = await hub.service.initiateStream('close-dev', 'banner');
    let error: Error | undefined;
    service.on('error', (err) => (error = err));
    const closed = new Promise<number>((resolve) => service.once('close', () => resolve(Date.now())));
    // Written now and then, never read: the device's 64 KiB stay unread.
    const writer = setInterval(() => service.write('x'), 200);
    const t0 = Date.now();
    try {
      const at = await closed;
      expect(at - t0).toBeGreaterThanOrEqual(29_000);
      expect(error?.message).toMatch(/65536 byte\(s\) it sent were not read within 30 s/);
    } finally {
      clearInterval(writer);
    }
  }, 60_000);

  it('ends the readable side of a paused stream (a pipe would end its destination) when the far side closes with nothing unread', async () => {
    onDeviceStream = (s) => {
      s.on('error', () => undefined);
      s.end();
    };
    const service = await hub.service.initiateStream('close-dev', 'empty');
    let error: Error | undefined;
    service.on('error', (err) => (error = err));
    service.pause();
    // Paused and never read: 'end' must still come (and then 'close'), within the test's timeout.
    const ended = new Promise<void>((resolve) => service.once('end', () => resolve()));
    const closed = new Promise<void>((resolve) => service.once('close', () => resolve()));
    await ended;
    await closed;
    // A clean end, not a stream torn down with an error.
    expect(error).toBeUndefined();
  });

  it('delivers all 4 MiB a v1 device wrote before it ended to a slow reader on a resumable service side (v2 falling back to v1)', async () => {
    onV1Stream = (s) => {
      s.on('error', () => undefined);
      s.end(payload);
    };
    const service = await hub.service.initiateStream('close-dev-v1', 'source', { resumable: true });
    expect(service).toBeInstanceOf(ResumableStream);
    const got = await readSlowly(service);
    expect(got.error).toBeUndefined();
    expect(got.data.length).toBe(TOTAL);
    expect(sha(got.data)).toBe(sha(payload));
    expect(got.ended).toBe(true);
  });
});
