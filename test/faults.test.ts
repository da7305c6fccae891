/**
 * Killing the agent mid-stream: the service side learns at once, the stream log says who ended it
 * and why, and the agent, restarted, reconnects by itself. An agent started before its hub retries
 * until a hub listens on the port, then connects and carries streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamClosedError } from '../shared/ws-duplex.js';
import { freePort, spawnCli, startAgent, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';
import { echoStream, endedRecord, restartHub, until } from './fixtures/fault-helpers.js';

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

  it('an agent started while nothing listens on its hub port keeps retrying, then connects to a hub started there and carries a stream', async () => {
    // A hub's first start makes its CA and keys; register the device then and stop the hub, so the
    // agent has everything it needs before any hub listens on the port.
    const port = await freePort();
    const first = await startHub(['--port', String(port)]);
    await first.service.createDevice('late-hub-dev');
    const cs = await first.service.deviceConnectionString('late-hub-dev');
    first.proc.kill('SIGTERM');
    expect(await first.proc.exited).toBe(0);

    // --max-backoff 2: once the hub is up, the next attempt is at most 2 s away.
    const agent = spawnCli(['agent', '--ca', first.caFile, '--max-backoff', '2', '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: cs });
    // Nothing listens: it logs refused attempts and the waits between them, and does not exit.
    await agent.waitFor(/cannot connect to the hub: .*ECONNREFUSED[\s\S]*reconnecting in[\s\S]*cannot connect to the hub: .*ECONNREFUSED/, 15_000);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output()).not.toMatch(/connected to the hub as/);

    // Now a real hub appears on that port (the same data directory: the device and CA it knows).
    const hub2 = await restartHub(first);
    expect(hub2.port).toBe(port);
    const upAt = Date.now();
    await agent.waitFor(/connected to the hub as late-hub-dev/, 10_000);
    // The agent's wait was at most the 2 s cap; 3 s more for a TLS connection and the hub's
    // answer on two shared, busy cores.
    expect(Date.now() - upAt).toBeLessThan(2000 + 3000);
    await until('the hub to show late-hub-dev connected', async () => ((await hub2.service.getDevice('late-hub-dev')).connectionState === 'Connected' ? true : undefined), 5000);

    // A stream through it works, and the hub logs it as accepted and carried both ways.
    const text = 'through the agent that came before its hub';
    const streamId = await echoStream(hub2.service, 'late-hub-dev', text);
    const record = await endedRecord(hub2.service, streamId);
    expect(record).toMatchObject({ deviceId: 'late-hub-dev', result: 'accepted', bytesToDevice: text.length, bytesFromDevice: text.length });
    agent.kill('SIGTERM');
  });
});
