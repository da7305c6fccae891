/** The control channel over time: token renewal without a gap, replacement, and /metrics. */
import { policyToken } from './fixtures/bad-input-helpers.js';
import { get } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceClient } from '../device/sdk/device-client.js';
import { until } from './console-client.js';
import { spawnCli, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let echoPort: number;

beforeAll(async () => {
  hub = await startHub();
  echoPort = (await startEchoServer()).port;
});

afterAll(stopAll);

function metrics(): Promise<string> {
  return new Promise((resolve, reject) => {
    get(new URL('/metrics', hub.url), { ca: hub.ca, headers: { authorization: policyToken(hub) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

async function echoOnce(deviceId: string, text: string): Promise<string> {
  const s = await hub.service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 });
  const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
  s.write(text);
  const answer = await got;
  s.end();
  return answer;
}

describe('device control channel', () => {
  it('renews its token by reconnecting before expiry, with no offline gap', async () => {
    await hub.service.createDevice('renew-dev');
    const cs = await hub.service.deviceConnectionString('renew-dev');
    // 5 s tokens are renewed every 4 s.
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--token-ttl', '5', '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: cs });
    await agent.waitFor(/connected to the hub/);
    await until(() => (agent.output().match(/connected to the hub/g) ?? []).length >= 3, 15_000, 'two renewals');
    expect(agent.output()).not.toMatch(/disconnected from the hub/);
    expect(hub.proc.output()).not.toMatch(/device renew-dev disconnected/);
    expect((await hub.service.getDevice('renew-dev')).connectionState).toBe('Connected');
    expect(await echoOnce('renew-dev', 'after renewals')).toBe('after renewals');
  });

  it('lets a second connection for the same device replace the first', async () => {
    await hub.service.createDevice('twin-dev');
    const cs = await hub.service.deviceConnectionString('twin-dev');
    const first = createDeviceClient(cs, { ca: hub.ca, hubUrl: hub.url });
    const replaced = new Promise<void>((resolve) => first.once('replaced', () => resolve()));
    await first.open();
    const second = createDeviceClient(cs, { ca: hub.ca, hubUrl: hub.url });
    second.onStreamRequest((req) => req.reject('second says no'));
    await second.open();
    await replaced;
    first.close();
    await expect(hub.service.initiateStream('twin-dev', 'x', { connectTimeoutSeconds: 2, responseTimeoutSeconds: 2 })).rejects.toThrow(/second says no/);
    second.close();
  });

  it('exposes Prometheus metrics: devices, streams by result and state, bytes, handshake time', async () => {
    await hub.service.createDevice('metrics-dev');
    const cs = await hub.service.deviceConnectionString('metrics-dev');
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: cs });
    await agent.waitFor(/connected to the hub/);
    expect(await echoOnce('metrics-dev', 'count me')).toBe('count me');
    await hub.service.initiateStream('metrics-dev', 'nope').catch(() => undefined);
    await until(async () => /devicestreams_stream_bytes_total\{direction="toDevice"\} [1-9]/.test(await metrics()), 5000, 'bytes counted');
    const text = await metrics();
    expect(text).toMatch(/devicestreams_connected_devices [1-9]/);
    expect(text).toMatch(/devicestreams_streams_total\{result="accepted"\} [1-9]/);
    expect(text).toMatch(/devicestreams_streams_total\{result="rejected"\} [1-9]/);
    expect(text).toMatch(/devicestreams_streams_active\{state="open"\} \d/);
    expect(text).toMatch(/devicestreams_stream_handshake_seconds_count [1-9]/);
    expect(text).not.toMatch(/SharedAccess|metrics-dev/);
  });
});
