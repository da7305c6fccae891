/**
 * Resumable streams against the faults between two healthy ends that the hub restart tests
 * (test/resume.test.ts) do not cover: the streaming endpoint running as its own process and
 * SIGKILLed five times under one stream; a 20 s blackhole on the path to the hub, where no socket
 * closes and only heartbeats can tell; and a reader that stops reading while the stream is
 * interrupted, which must cost bounded memory (the writer waits) and lose nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { createDeviceClient } from '../device/sdk/device-client.js';
import { DsError } from '../shared/errors.js';
import type { ResumableStream } from '../shared/resumable-stream.js';
import { freePort, rssOf, sleep, spawnCli, startAgent, startEchoServer, startHub, stopAll, tempDir, type HubHandle, type Proc } from './harness.js';
import { restartHub, until } from './fixtures/fault-helpers.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

afterAll(stopAll);


/** Writes `data` into `s` from `from` up to `to`, waiting on backpressure. */
async function writeRange(s: ResumableStream, data: Buffer, from: number, to: number): Promise<void> {
  for (let off = from; off < to; off += 64 * 1024) {
    if (!s.write(data.subarray(off, Math.min(to, off + 64 * 1024)))) await new Promise((r) => s.once('drain', r));
  }
}

/** Collects what an echo stream sends back; `done` resolves once `total` bytes arrived. */
function collect(s: ResumableStream, total: number): { done: Promise<Buffer>; received: () => number } {
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<Buffer>((resolve, reject) => {
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= total) resolve(Buffer.concat(chunks));
    });
  });
  return { done, received: () => got };
}

describe('a streaming endpoint in its own process', () => {
  it('random bytes both ways on a resumable raw stream arrive intact, in order and once, through five SIGKILLs and restarts of the endpoint', async () => {
    const dataDir = tempDir();
    const gatewayPort = await freePort();
    const hub = await startHub(['--roles', 'hub', '--gateway-url', `https://localhost:${gatewayPort}`], dataDir);
    const startGateway = async (): Promise<Proc> => {
      const gw = spawnCli(['hub', '--roles', 'gateway', '--data-dir', dataDir, '--port', String(gatewayPort), '--hub-url', hub.url, '--heartbeat-interval', '1']);
      await gw.waitFor(/READY/);
      return gw;
    };
    let gateway = await startGateway();
    const echo = await startEchoServer();
    await startAgent(hub, 'gw-kill-dev', [`echo=127.0.0.1:${echo.port}`]);
    const events: string[] = [];
    const s = (await hub.service.initiateStream('gw-kill-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } })) as ResumableStream;
    const data = randomBytes(24 * MiB);
    const back = collect(s, data.length);
    const phase = 4 * MiB;
    for (let i = 0; i < 5; i++) {
      // Write a phase (the writer waits once 4 MiB are unacknowledged), then kill the endpoint
      // while those bytes are still between the two sides.
      await writeRange(s, data, i * phase, (i + 1) * phase);
      gateway.kill('SIGKILL');
      await gateway.exited;
      gateway = await startGateway();
      await until(`resume ${i + 1}`, () => (events.filter((e) => e === 'resumed').length === i + 1 ? true : undefined), 30_000);
    }
    await writeRange(s, data, 5 * phase, data.length);
    const got = await back.done;
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    expect(events).toEqual(Array.from({ length: 5 }, () => ['interrupted', 'resumed']).flat());
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.end();
    await closed;
    const log = await until('the end logged', async () => {
      const r = await hub.service.getStream(s.streamId ?? '');
      return r.state === 'ended' ? r : undefined;
    });
    expect(log).toMatchObject({ interruptions: 5, resumes: 5, bytesToDevice: data.length, bytesFromDevice: data.length });
  }, 240_000);

  it('a device side that gives an interrupted stream up ends it at once: the service side is refused its resume within seconds (its window is 60 s) and the log names the device and 4011', async () => {
    const dataDir = tempDir();
    const gatewayPort = await freePort();
    const hub = await startHub(['--roles', 'hub', '--gateway-url', `https://localhost:${gatewayPort}`], dataDir);
    const gateway = spawnCli(['hub', '--roles', 'gateway', '--data-dir', dataDir, '--port', String(gatewayPort), '--hub-url', hub.url, '--heartbeat-interval', '1']);
    await gateway.waitFor(/READY/);
    await hub.service.createDevice('quit-dev');
    const device = createDeviceClient(await hub.service.deviceConnectionString('quit-dev'), { ca: hub.ca, hubUrl: hub.url });
    let deviceSide: (d: Duplex) => void = () => undefined;
    const accepted = new Promise<Duplex>((resolve) => (deviceSide = resolve));
    device.onStreamRequest(async (req) => {
      const d = await req.accept();
      d.on('error', () => undefined);
      d.on('data', (x: Buffer) => d.write(x));
      deviceSide(d);
    });
    await device.open();
    try {
      const events: string[] = [];
      const s = await hub.service.initiateStream('quit-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } });
      const failed = new Promise<unknown>((resolve) => s.once('error', resolve));
      const echoed = new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.write('x');
      await echoed;
      const d = await accepted;
      gateway.kill('SIGKILL');
      await gateway.exited;
      await until('the service side interrupted', () => (events.includes('interrupted') ? true : undefined), 15_000);
      await sleep(500);
      const t0 = Date.now();
      d.destroy();
      const err = await failed;
      // Without the device's word the service side would retry until its 60 s window ran out;
      // it learns at its next try (at most 5 s apart).
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(err).toBeInstanceOf(DsError);
      expect((err as DsError).message).toMatch(/has ended \(closed while interrupted\)/);
      const record = await until('the log to say who gave it up', async () => {
        const r = await hub.service.getStream(s.streamId ?? '');
        return r.state === 'ended' ? r : undefined;
      });
      expect(record).toMatchObject({ closedBy: 'device', closeCode: 4011, reason: 'closed while interrupted' });
    } finally {
      device.close();
    }
  }, 60_000);
});

describe('a blackhole on the path to the hub', () => {
  it('a resumable stream whose legs go silent for 20 s (no socket closed) resumes after the path is back, with every byte once and in order', async () => {
    const hubPort = await freePort();
    const proxy = await startFaultProxy(hubPort);
    // Devices and clients reach the hub, and so the streaming endpoint, only through the proxy.
    const hub = await startHub(['--port', String(hubPort), '--public-url', `https://localhost:${proxy.port}`]);
    const echo = await startEchoServer();
    await startAgent(hub, 'hole-dev', [`echo=127.0.0.1:${echo.port}`], ['--hub-url', `wss://localhost:${proxy.port}`, '--max-backoff', '2']);
    const events: string[] = [];
    const s = (await hub.service.initiateStream('hole-dev', 'echo', { resumable: { windowSeconds: 90, onEvent: (e) => events.push(e) } })) as ResumableStream;
    const data = randomBytes(12 * MiB);
    const back = collect(s, data.length);
    await writeRange(s, data, 0, 2 * MiB);
    await until('some of it back', () => (back.received() >= MiB ? true : undefined));
    proxy.blackhole();
    const t0 = Date.now();
    // The writer goes on into the silence; it waits once the resume buffer (4 MiB) is full.
    const rest = writeRange(s, data, 2 * MiB, data.length);
    await until('the silent leg given up', () => (events.includes('interrupted') ? true : undefined), 20_000);
    // Nothing arrives in the silence: the endpoint pings every second, so a side calls its leg
    // lost after two intervals and a second (3 s), not at the first quiet moment.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    await sleep(Math.max(0, 20_000 - (Date.now() - t0)));
    expect(events).not.toContain('resumed');
    proxy.restore();
    await rest;
    const got = await back.done;
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    expect(events[0]).toBe('interrupted');
    expect(events.at(-1)).toBe('resumed');
    const log = await hub.service.getStream(s.streamId ?? '');
    expect(log.interruptions).toBeGreaterThanOrEqual(1);
    expect(log.resumes).toBe(log.interruptions);
    s.end();
    await proxy.close();
  }, 120_000);
});

describe('a paused reader through a resume window', () => {
  it('`devicestreams stream` fed without end to a device service that stops reading takes in at most the resume buffer more while the hub is down (its memory stays flat), then delivers every byte once', async () => {
    // The device service: reads nothing until told to, then counts and hashes what it gets.
    let sink: Socket | undefined;
    let sinkBytes = 0;
    const sinkHash = createHash('sha256');
    let sinkEnded: () => void = () => undefined;
    const sinkDone = new Promise<void>((resolve) => (sinkEnded = resolve));
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sink = socket;
      socket.pause();
      socket.on('data', (d: Buffer) => {
        sinkBytes += d.length;
        sinkHash.update(d);
      });
      socket.on('end', () => {
        sinkEnded();
        socket.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const sinkPort = (server.address() as AddressInfo).port;

    let hub: HubHandle = await startHub();
    await startAgent(hub, 'sink-dev', [`sink=127.0.0.1:${sinkPort}`], ['--max-backoff', '2']);
    const cli = spawnCli(['stream', 'sink-dev', '--name', 'sink', '--ca', hub.caFile], { IOTHUB_CONNECTION_STRING: hub.ownerCs });
    const stdin = cli.child.stdin;
    if (stdin === null || stdin === undefined) throw new Error('no stdin');
    stdin.on('error', () => undefined);
    const sent = createHash('sha256');
    let accepted = 0;
    let stop = false;
    const chunk = randomBytes(64 * 1024);
    // Feeds the CLI as fast as it takes it; `accepted` counts what it took.
    const feeding = (async () => {
      while (!stop) {
        const piece = Buffer.from(chunk);
        piece.writeUInt32BE(accepted >>> 0, 0);
        sent.update(piece);
        accepted += piece.length;
        if (!stdin.write(piece)) await new Promise((r) => stdin.once('drain', r));
      }
    })();
    const settled = async (what: string): Promise<number> => {
      // Backpressure has reached the CLI once it takes nothing for a second.
      let last = -1;
      return until(what, async () => {
        const now = accepted;
        if (now === last) return now;
        last = now;
        await sleep(1000);
        return undefined;
      }, 30_000, 0);
    };
    // The stream is open once more than the pipe holds went in; then it fills up to the sink.
    await until('the stream carrying input', () => (accepted >= 4 * MiB ? true : undefined), 30_000);
    const before = await settled('the CLI to stop taking input');
    const rssBefore = rssOf(cli.child.pid ?? 0);

    hub.proc.kill('SIGKILL');
    await hub.proc.exited;
    // Ten seconds interrupted, the reader still paused, the input still pushed.
    let rssPeak = rssBefore;
    for (let i = 0; i < 20; i++) {
      await sleep(500);
      rssPeak = Math.max(rssPeak, rssOf(cli.child.pid ?? 0));
    }
    const during = accepted;
    hub = await restartHub(hub);
    await until('the agent back', async () => ((await hub.service.getDevice('sink-dev')).connectionState === 'Connected' ? true : undefined), 15_000);
    await cli.waitFor(/stream resumed/, 30_000);

    // At most the resume buffer (4 MiB) plus what sits in pipes and stream buffers on the way
    // (1 MiB) more was taken while nobody could receive it; a writer that buffered without bound
    // would have taken hundreds of MiB in those 10 s.
    expect(during - before).toBeLessThanOrEqual(5 * MiB);
    expect(rssPeak - rssBefore).toBeLessThan(24 * MiB);

    // Now the reader reads: everything the CLI took arrives exactly once.
    sink?.resume();
    stop = true;
    await feeding;
    stdin.end();
    await sinkDone;
    expect(sinkBytes).toBe(accepted);
    expect(sinkHash.digest('hex')).toBe(sent.digest('hex'));
    expect(await cli.exited).toBe(0);
    server.close();
  }, 180_000);
});
