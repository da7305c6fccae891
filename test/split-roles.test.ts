/**
 * Each role as its own process: the streaming endpoint (--roles gateway) reporting to a hub
 * (--roles hub) over HTTPS, and the console (--roles bff) using the hub's REST API.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, session, until } from './console-client.js';
import { CLI, freePort, spawnCli, startAgent, startEchoServer, startHub, stopAll, tempDir, type HubHandle } from './harness.js';

let hub: HubHandle;
let gatewayUrl: string;

beforeAll(async () => {
  const dataDir = tempDir();
  const hubPort = await freePort();
  const gatewayPort = await freePort();
  gatewayUrl = `https://localhost:${gatewayPort}`;
  hub = await startHub(['--roles', 'hub', '--port', String(hubPort), '--gateway-url', gatewayUrl], dataDir);
  const gateway = spawnCli(['hub', '--roles', 'gateway', '--data-dir', dataDir, '--port', String(gatewayPort), '--hub-url', hub.url, '--heartbeat-interval', '1']);
  await gateway.waitFor(/READY/);
});

afterAll(stopAll);

describe('roles in separate processes', () => {
  it('carries a stream through a separate streaming endpoint, which reports its end to the hub', async () => {
    expect((await hub.service.call('GET', '/devicestreams')).body).toEqual({ streamingEndpoints: [gatewayUrl] });
    const echo = await startEchoServer();
    await startAgent(hub, 'split-dev', [`echo=127.0.0.1:${echo.port}`]);
    const stream = await hub.service.initiateStream('split-dev', 'echo');
    const got = new Promise<string>((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString())));
    stream.write('through a separate gateway');
    expect(await got).toBe('through a separate gateway');
    stream.end();
    await until(async () => (await hub.service.getStream(stream.streamId ?? '')).state === 'ended', 10_000, 'end reported');
    const record = await hub.service.getStream(stream.streamId ?? '');
    expect(record).toMatchObject({ result: 'accepted', closedBy: 'service', bytesToDevice: 26, bytesFromDevice: 26 });
    expect(record.connectedAt).not.toBeNull();
  });

  it('closes a device\'s stream on the separate streaming endpoint within 1 s when the device is disabled', async () => {
    const echo = await startEchoServer();
    await startAgent(hub, 'split-revoked', [`echo=127.0.0.1:${echo.port}`]);
    const stream = await hub.service.initiateStream('split-revoked', 'echo');
    const echoed = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.write('abc');
    await echoed;
    const closed = new Promise<{ at: number; code: number | undefined }>((resolve) => {
      stream.on('error', () => undefined);
      stream.on('close', () => resolve({ at: Date.now(), code: stream.closeCode }));
    });
    const t0 = Date.now();
    await hub.service.updateDevice('split-revoked', { status: 'disabled' });
    const { at, code } = await closed;
    expect(at - t0).toBeLessThan(1000);
    expect(code).toBe(4004);
    await until(async () => (await hub.service.getStream(stream.streamId ?? '')).state === 'ended', 5000, 'end reported');
    expect(await hub.service.getStream(stream.streamId ?? '')).toMatchObject({ closedBy: 'hub', closeCode: 4004, reason: 'device disabled in the registry', bytesToDevice: 3, bytesFromDevice: 3 });
  });

  it('runs the console as its own process against the hub REST API', async () => {
    // The least-privileged policy the console needs: RegistryView (no device keys) + ServiceConnect.
    const consolePolicy = execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'console', '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host], { encoding: 'utf8' }).trim();
    const bffDir = tempDir();
    const bff = spawnCli(
      ['hub', '--roles', 'bff', '--data-dir', bffDir, '--port', '0', '--hub-url', hub.url, '--hub-ca', hub.caFile],
      { IOTHUB_CONNECTION_STRING: consolePolicy, DEVICESTREAMS_ADMIN_PASSWORD: 'split-console-pw' },
    );
    const url = (await bff.waitFor(/READY (https:\/\/\S+)/))[1] ?? '';
    const c = new ConsoleClient({ ...hub, url, ca: readFileSync(join(bffDir, 'tls', 'ca.pem'), 'utf8') });
    const cookie = await c.login('admin', 'split-console-pw');
    const devices = (await c.call('GET', '/api/devices', { cookie })).json as { devices: Array<{ deviceId: string }> };
    expect(devices.devices.map((d) => d.deviceId)).toContain('split-dev');
    const s = session(c.terminalSocket('split-dev', cookie));
    const closed = await s.closed;
    expect(closed.code).toBe(4100); // split-dev maps only "echo": the console says the device rejected it
  });
});
