/**
 * A stream whose far reader is paused: the hub must pause the writer (TCP window all the way back)
 * instead of buffering. 256 MiB are offered; the hub's resident memory may grow by less than 64 MiB.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceClient, type DeviceClient } from '../device/sdk/device-client.js';
import type { Duplex } from 'node:stream';
import { rssOf, sleep, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let device: DeviceClient;
let deviceSide: Promise<Duplex>;

beforeAll(async () => {
  hub = await startHub();
  await hub.service.createDevice('slow-dev');
  const cs = await hub.service.deviceConnectionString('slow-dev');
  device = createDeviceClient(cs, { ca: hub.ca, hubUrl: hub.url });
  deviceSide = new Promise((resolve) => {
    device.onStreamRequest(async (req) => {
      const s = await req.accept();
      s.pause();
      resolve(s);
    });
  });
  await device.open();
});

afterAll(async () => {
  device.close();
  await stopAll();
});

describe('a paused far reader', () => {
  it('keeps hub memory growth under 64 MiB while 256 MiB are offered, then delivers every byte', async () => {
    const service = await hub.service.initiateStream('slow-dev', 'sink');
    const reader = await deviceSide;
    // Both ends see the hub's shutdown close at teardown; that is not this test's concern.
    reader.on('error', () => undefined);
    service.on('error', () => undefined);
    await sleep(300);
    const before = rssOf(hub.proc.pid);
    const total = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let offered = 0;
    let peakGrowth = 0;
    const sampler = setInterval(() => {
      peakGrowth = Math.max(peakGrowth, rssOf(hub.proc.pid) - before);
    }, 50);
    // Offer as fast as the stream lets us, for at most 4 s: with the reader paused it must stall.
    const deadline = Date.now() + 4000;
    while (offered < total && Date.now() < deadline) {
      offered += chunk.length;
      if (!service.write(chunk)) {
        await Promise.race([new Promise((r) => service.once('drain', r)), sleep(Math.max(0, deadline - Date.now()))]);
      }
    }
    await sleep(500);
    clearInterval(sampler);
    peakGrowth = Math.max(peakGrowth, rssOf(hub.proc.pid) - before);
    expect(offered).toBeLessThan(total); // the writer was held back
    expect(peakGrowth).toBeLessThan(64 * 1024 * 1024);

    // Resume the reader: everything offered arrives, intact and in order.
    const hash = createHash('sha256');
    let received = 0;
    const done = new Promise<void>((resolve) => {
      reader.on('data', (d: Buffer) => {
        hash.update(d);
        received += d.length;
        if (received >= total) resolve();
      });
    });
    reader.resume();
    while (offered < total) {
      offered += chunk.length;
      if (!service.write(chunk)) await new Promise((r) => service.once('drain', r));
    }
    await done;
    const expected = createHash('sha256');
    for (let i = 0; i < total / chunk.length; i++) expected.update(chunk);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    service.end();
  }, 120_000);
});
