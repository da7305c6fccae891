/**
 * Killing the agent mid-stream: the service side learns at once, the stream log says who ended it
 * and why, and the agent, restarted, reconnects by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamClosedError } from '../shared/ws-duplex.js';
import { spawnCli, startAgent, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let echoPort: number;

beforeAll(async () => {
  hub = await startHub();
  echoPort = (await startEchoServer()).port;
});

afterAll(stopAll);

describe('SIGKILL of the agent mid-stream', () => {
  it('closes the service side within 2 s, records the device as closer, and the restarted agent reconnects', async () => {
    const agent = await startAgent(hub, 'fault-dev', [`echo=127.0.0.1:${echoPort}`]);
    const stream = await hub.service.initiateStream('fault-dev', 'echo', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 });
    const firstEcho = new Promise<string>((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString())));
    stream.write('before the kill');
    expect(await firstEcho).toBe('before the kill');

    const closed = new Promise<{ at: number; err: unknown }>((resolve) => {
      let err: unknown;
      stream.on('error', (e) => { err = e; });
      stream.on('close', () => resolve({ at: Date.now(), err }));
    });
    const killedAt = Date.now();
    agent.kill('SIGKILL');
    const { at, err } = await closed;
    expect(at - killedAt).toBeLessThan(2000);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err as StreamClosedError).closeCode).toBe(4001);

    // The gateway reports the end to the hub right away; allow it a moment to land.
    let record = await hub.service.getStream(stream.streamId ?? '');
    for (let i = 0; i < 20 && record.state !== 'ended'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      record = await hub.service.getStream(stream.streamId ?? '');
    }
    expect(record.state).toBe('ended');
    expect(record.result).toBe('accepted');
    expect(record.closedBy).toBe('device');
    expect(record.reason).toMatch(/connection lost/);
    expect(record.bytesToDevice).toBe('before the kill'.length);
    expect(record.bytesFromDevice).toBe('before the kill'.length);

    // The hub notices the dead control channel (heartbeat 1 s in tests) and shows the device offline.
    let device = await hub.service.getDevice('fault-dev');
    for (let i = 0; i < 50 && device.connectionState === 'Connected'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      device = await hub.service.getDevice('fault-dev');
    }
    expect(device.connectionState).toBe('Disconnected');

    // Restart: it reconnects by itself and the next stream works.
    const cs = await hub.service.deviceConnectionString('fault-dev');
    const again = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: cs });
    await again.waitFor(/connected to the hub/);
    const next = await hub.service.initiateStream('fault-dev', 'echo', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 });
    const echoed = new Promise<string>((resolve) => next.once('data', (d: Buffer) => resolve(d.toString())));
    next.write('after the restart');
    expect(await echoed).toBe('after the restart');
    next.end();
  });

  it('an agent started before its hub keeps retrying with backoff and connects when the hub appears', async () => {
    const cs = await hub.service.deviceConnectionString('fault-dev').catch(async () => {
      await hub.service.createDevice('fault-dev');
      return hub.service.deviceConnectionString('fault-dev');
    });
    // Point the agent at a port where nothing listens yet: it must log its retries, not exit.
    const { createServer } = await import('node:net');
    const probe = createServer();
    const freePort = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as { port: number }).port)));
    await new Promise((r) => probe.close(r));
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--hub-url', `wss://localhost:${freePort}`, '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: cs });
    await agent.waitFor(/reconnecting in [\d.]+ s/);
    await agent.waitFor(/cannot connect to the hub: .*ECONNREFUSED[\s\S]*reconnecting in[\s\S]*cannot connect/, 15_000);
    expect(agent.child.exitCode).toBeNull();
    agent.kill('SIGTERM');
  });
});
