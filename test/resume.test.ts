/**
 * Streams that behave like the TCP connections they stand in for (stream protocol v2): end of input
 * reaches the device and the answer still comes back; and streams that outlive what goes wrong
 * between two healthy ends — the hub SIGKILLed and restarted, with ssh and scp running through a
 * proxy — without a byte lost, duplicated or reordered. Real hub, agent, proxy, sshd and clients.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceClient } from '../device/sdk/device-client.js';
import { parseDeviceConnectionString } from '../shared/connection-string.js';
import { ResumableStream } from '../shared/resumable-stream.js';
import { StreamClosedError } from '../shared/ws-duplex.js';
import { ROOT, spawnCli, spawnProc, startAgent, startEchoServer, startHub, startProxy, stopAll, type HubHandle, type Proc } from './harness.js';
import type { ServiceStream } from '../server/sdk/service-client.js';
import { SCP, SSH, run, startPrivateSshd, type PrivateSshd } from './sshd.js';
import { restartHub, until } from './fixtures/fault-helpers.js';
import { deviceToken, expectErrorBody, rest } from './fixtures/bad-input-helpers.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let hub: HubHandle;
let countPort: number;
let echoPort: number;
let sshd: PrivateSshd;

beforeAll(async () => {
  hub = await startHub();
  const count = spawnProc(process.execPath, [join(ROOT, 'test', 'fixtures', 'count-server.mjs')]);
  countPort = Number((await count.waitFor(/PORT (\d+)/))[1]);
  echoPort = (await startEchoServer()).port;
  sshd = await startPrivateSshd();
  await startAgent(hub, 'v2-dev', [`wc=127.0.0.1:${countPort}`, `echo=127.0.0.1:${echoPort}`, `ssh=127.0.0.1:${sshd.port}`]);
});

afterAll(stopAll);

/**
 * An agent for `deviceId` mapping echo, and a resumable stream to it with a `windowSeconds` window
 * whose echo came back (both sides connected); `failed` is the stream's first error.
 */
async function echoingStream(deviceId: string, windowSeconds: number): Promise<{ agent: Proc; s: ServiceStream; failed: Promise<unknown> }> {
  const agent = await startAgent(hub, deviceId, [`echo=127.0.0.1:${echoPort}`]);
  const s = await hub.service.initiateStream(deviceId, 'echo', { resumable: { windowSeconds } });
  const failed = new Promise<unknown>((resolve) => s.once('error', resolve));
  const echoed = new Promise<void>((resolve) => s.once('data', () => resolve()));
  s.write('x');
  await echoed;
  s.on('data', () => undefined);
  return { agent, s, failed };
}

/** Kills the hub (SIGKILL, or stops it with SIGTERM) and starts it again on its data directory and port; waits for the agent. */
async function bounceHub(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
  hub.proc.kill(signal);
  await hub.proc.exited;
  hub = await restartHub(hub);
  await until('the agent back', async () => ((await hub.service.getDevice('v2-dev')).connectionState === 'Connected' ? true : undefined), 15_000);
}

describe('half-close', () => {
  it('`head -c 4M | devicestreams stream … --name wc` prints the count the device computed after end of input, and exits 0', async () => {
    const data = randomBytes(4 * MiB);
    const cli = spawnCli(['stream', 'v2-dev', '--name', 'wc', '--ca', hub.caFile], { IOTHUB_CONNECTION_STRING: hub.ownerCs });
    cli.child.stdin?.end(data);
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain(`${data.length} ${sha256(data)}`);
  });

  it('passes a client\'s FIN through the proxy to the device service and its answer back', async () => {
    const proxy = await startProxy(hub, 'v2-dev', 'wc');
    const data = randomBytes(3 * MiB + 17);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
      socket.end(data);
    });
    expect(answer).toBe(`${data.length} ${sha256(data)}\n`);
  });
});

describe('resume across a hub restart', () => {
  it('a stream from the SDK carries 16 MiB each way intact while the hub is SIGKILLed and restarted in the middle, and logs the interruption and every byte', async () => {
    const events: string[] = [];
    const s = await hub.service.initiateStream('v2-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } });
    expect(s).toBeInstanceOf(ResumableStream);
    const data = randomBytes(16 * MiB);
    const chunks: Buffer[] = [];
    let got = 0;
    const all = new Promise<void>((resolve) => s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= data.length) resolve();
    }));
    let off = 0;
    const writeUpTo = async (n: number): Promise<void> => {
      while (off < n) {
        const chunk = data.subarray(off, Math.min(n, off + 64 * 1024));
        off += chunk.length;
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    };
    await writeUpTo(data.length / 2);
    await until('half of it back', () => (got >= data.length / 4 ? true : undefined));
    await bounceHub();
    await writeUpTo(data.length);
    await all;
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(events).toEqual(['interrupted', 'resumed']);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.end();
    await closed;
    const record = await until('the end recorded', async () => {
      const r = await hub.service.getStream(s.streamId ?? '');
      return r.state === 'ended' ? r : undefined;
    });
    // Counted whole although the hub died before the first pair could report its bytes.
    expect(record).toMatchObject({ bytesToDevice: data.length, bytesFromDevice: data.length });
    expect(record.interruptions).toBe(1);
    expect(record.resumes).toBe(1);
    expect(record.interruptionLog).toHaveLength(1);
    expect(record.interruptionLog?.[0]?.resumedAt).not.toBeNull();
  });

  it('a graceful stop (SIGTERM) and restart of the hub interrupts a resumable stream rather than ending it: 4 MiB echo back intact and the log shows one resume', async () => {
    const events: string[] = [];
    const s = await hub.service.initiateStream('v2-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } });
    const data = randomBytes(4 * MiB);
    const chunks: Buffer[] = [];
    let got = 0;
    const all = new Promise<void>((resolve, reject) => {
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= data.length) resolve();
      });
    });
    s.write(data.subarray(0, MiB));
    await until('the first MiB back', () => (got >= MiB ? true : undefined));
    await bounceHub('SIGTERM');
    s.write(data.subarray(MiB));
    await all;
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(events).toEqual(['interrupted', 'resumed']);
    s.end();
    const record = await until('the end recorded', async () => {
      const r = await hub.service.getStream(s.streamId ?? '');
      return r.state === 'ended' ? r : undefined;
    });
    expect(record).toMatchObject({ interruptions: 1, resumes: 1, bytesToDevice: data.length, bytesFromDevice: data.length });
  });

  it('an ssh session through devicestreams proxy outlives a SIGKILL and restart of the hub: the remote output arrives complete and in order, ssh exits 0', async () => {
    const proxy = await startProxy(hub, 'v2-dev', 'ssh');
    const session = run(SSH, ['-p', String(proxy.port), ...sshd.options(), `${sshd.user}@127.0.0.1`, 'for i in $(seq 1 40); do echo line-$i; sleep 0.1; done'], 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    await bounceHub();
    const r = await session;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString('utf8').trim().split('\n')).toEqual(Array.from({ length: 40 }, (_, i) => `line-${i + 1}`));
  });

  it('100 MiB through scp over the proxy with two hub restarts during the copy arrive with the same SHA-256', async () => {
    const proxy = await startProxy(hub, 'v2-dev', 'ssh');
    const data = randomBytes(100 * MiB);
    const local = join(sshd.dir, 'big.bin');
    const remote = join(sshd.dir, 'big-on-device.bin');
    writeFileSync(local, data);
    const copy = run(SCP, ['-P', String(proxy.port), ...sshd.options(), '-q', local, `${sshd.user}@127.0.0.1:${remote}`], 240_000);
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 2500));
      await bounceHub();
    }
    const r = await copy;
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(readFileSync(remote))).toBe(sha256(data));
  }, 300_000);

  it('a stream whose device side never comes back ends with resumeTimeout after its window, for the service side and in the log', async () => {
    const { agent, s, failed } = await echoingStream('gone-dev', 3);
    const t0 = Date.now();
    agent.kill('SIGKILL');
    const err = await failed;
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err as StreamClosedError).closeCode).toBe(4010);
    const waited = Date.now() - t0;
    // The window is 3 s; the service side gives up at its end, give or take one retry (≤ 5 s apart).
    expect(waited).toBeGreaterThanOrEqual(3000);
    expect(waited).toBeLessThan(3000 + 5000);
    const record = await until('the log to say resumeTimeout', async () => {
      const r = await hub.service.getStream(s.streamId ?? '');
      return r.state === 'ended' ? r : undefined;
    });
    expect(record).toMatchObject({ closedBy: 'hub', closeCode: 4010, reason: 'resumeTimeout: not resumed within 3 s' });
  });
});

describe('a device side that restarted', () => {
  it('ends the interrupted streams of the agent process before it as soon as a new one says hello (4011 from the hub, saying why), long before the resume window; a stream asked for meanwhile goes to the new one', async () => {
    const { agent, s, failed } = await echoingStream('reborn-dev', 120);
    agent.kill('SIGKILL');
    await agent.exited;
    // Asked while the device is away (the hub has seen its channel go): it waits for the device,
    // and the new agent takes it.
    await until('the hub to see the device offline', async () => ((await hub.service.getDevice('reborn-dev')).connectionState === 'Disconnected' ? true : undefined));
    const asked = hub.service.initiateStream('reborn-dev', 'echo', { resumable: { windowSeconds: 120 }, connectTimeoutSeconds: 30 });
    asked.catch(() => undefined);
    // The same device, a new agent process: its hello names another instance.
    await startAgent(hub, 'reborn-dev', [`echo=127.0.0.1:${echoPort}`]);
    const outcome = await Promise.race([failed, new Promise((r) => setTimeout(() => r('still waiting after 60 s'), 60_000))]);
    expect(outcome).toBeInstanceOf(StreamClosedError);
    expect((outcome as StreamClosedError).closeCode).toBe(4011);
    expect((outcome as StreamClosedError).message).toMatch(/device side restarted/);
    const record = await until('the log to say why it ended', async () => {
      const r = await hub.service.getStream(s.streamId ?? '');
      return r.state === 'ended' ? r : undefined;
    });
    expect(record).toMatchObject({ closedBy: 'hub', closeCode: 4011 });
    expect(record.reason).toMatch(/device side restarted/);
    // The stream asked for while it was away, and a new one, are the new agent's: they work.
    for (const next of [await asked, await hub.service.initiateStream('reborn-dev', 'echo', { resumable: { windowSeconds: 120 } })]) {
      const back = new Promise<string>((resolve) => next.once('data', (d: Buffer) => resolve(d.toString())));
      next.write('again');
      expect(await back).toBe('again');
      next.destroy();
    }
  });
});

describe('limits across a restart', () => {
  it('a resumable stream that outlived a hub restart still counts against --max-streams-per-device 1: a second initiation is 429 until it ends', async () => {
    let limited = await startHub(['--max-streams-per-device', '1']);
    await startAgent(limited, 'one-dev', [`echo=127.0.0.1:${echoPort}`]);
    const events: string[] = [];
    const s = await limited.service.initiateStream('one-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } });
    const echoed = new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.write('x');
    await echoed;
    limited.proc.kill('SIGKILL');
    await limited.proc.exited;
    limited = await restartHub(limited, ['--max-streams-per-device', '1']);
    await until('the stream resumed', () => (events.includes('resumed') ? true : undefined), 20_000);
    await until('the agent back', async () => ((await limited.service.getDevice('one-dev')).connectionState === 'Connected' ? true : undefined), 15_000);
    const refused = await limited.service.initiateStream('one-dev', 'echo').then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 429001 });
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.on('data', () => undefined);
    s.end();
    await closed;
    const next = await until('a slot free again', async () => limited.service.initiateStream('one-dev', 'echo').then((x) => x, () => undefined), 10_000);
    next.destroy();
  });
});

describe('a device side without v2 (an agent from before it)', () => {
  it('a stream that asked to be resumable works as v1: bytes both ways, peerV2 false, the service side\'s end closes it, and a hub restart ends it (in the log too) instead of resuming', async () => {
    await hub.service.createDevice('old-dev').catch(() => undefined);
    const device = createDeviceClient(await hub.service.deviceConnectionString('old-dev'), { ca: hub.ca, hubUrl: hub.url, resumable: false });
    let closedAtDevice = 0;
    const kinds: boolean[] = [];
    device.onStreamRequest(async (req) => {
      const d = await req.accept();
      kinds.push(d instanceof ResumableStream);
      d.on('error', () => undefined);
      d.on('close', () => (closedAtDevice += 1));
      d.on('data', (x: Buffer) => d.write(x));
    });
    await device.open();
    try {
      const first = await hub.service.initiateStream('old-dev', 'echo', { resumable: { windowSeconds: 60 } });
      const back = new Promise<string>((resolve) => first.once('data', (d: Buffer) => resolve(d.toString())));
      first.write('old');
      expect(await back).toBe('old');
      expect((first as ResumableStream).peerV2).toBe(false);
      const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      first.end();
      await closed;
      await until('the device side closed', () => (closedAtDevice === 1 ? true : undefined), 5000);

      const second = await hub.service.initiateStream('old-dev', 'echo', { resumable: { windowSeconds: 60 } });
      const echoed = new Promise<void>((resolve) => second.once('data', () => resolve()));
      second.write('x');
      await echoed;
      const failed = new Promise<unknown>((resolve) => second.once('error', resolve));
      await bounceHub();
      expect(await failed).toBeInstanceOf(StreamClosedError);
      await until('the device side closed', () => (closedAtDevice === 2 ? true : undefined), 10_000);
      // Both answered as v1 streams (no resume buffer, no sequence) by the device.
      expect(kinds).toEqual([false, false]);
      // Nobody can resume it, so the restart ended it in the log (not left interrupted for a window).
      expect(await hub.service.getStream(second.streamId ?? '')).toMatchObject({ state: 'ended', resumable: false, reason: 'hubRestart', interruptions: 0 });
    } finally {
      device.close();
    }
  });
});

describe('the resume and abandon calls of a device', () => {
  it('answer a device the same for another device\'s stream and for no stream at all, name no device, and leave that stream running', async () => {
    const s = await hub.service.initiateStream('v2-dev', 'echo', { resumable: { windowSeconds: 60 } });
    const first = new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.write('a');
    await first;
    await hub.service.createDevice('nosy-dev').catch(() => undefined);
    const key = parseDeviceConnectionString(await hub.service.deviceConnectionString('nosy-dev')).sharedAccessKey;
    const nosy = deviceToken(hub, 'nosy-dev', key);
    const body = JSON.stringify({ side: 'device', key: 'k'.repeat(32) });
    for (const id of [s.streamId ?? '', randomUUID()]) {
      for (const call of ['resume', 'abandon']) {
        const r = await rest(hub, 'POST', `/streams/${id}/${call}`, { auth: nosy, body });
        expectErrorBody(r.status, r.json, 401002, new RegExp(`^this device holds no stream "${id}"$`));
        expect(r.text).not.toContain('v2-dev');
        // Without credentials, an existing id and an unknown one get the same answer too.
        const anonymous = await rest(hub, 'POST', `/streams/${id}/${call}`, { auth: null, body });
        expectErrorBody(anonymous.status, anonymous.json, 401001);
      }
    }
    const again = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    s.write('still');
    expect(await again).toBe('still');
    s.end();
  });
});
