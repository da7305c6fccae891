/**
 * A side's first leg to the streaming endpoint meets a network failure (a blip, an endpoint
 * refusing connections while it is busy): both sides try again, and the stream pairs once the path
 * is back. The streaming URL goes through a TCP proxy the test controls; the agent's control channel
 * and the service's REST calls reach the hub directly, so only the legs meet the fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { DsError } from '../shared/errors.js';
import { connectBridge } from '../shared/ws-connect.js';
import { freePort, sleep, startAgent, startEchoServer, startHub, stopAll, type HubHandle, type Proc } from './harness.js';
import { echoOnce } from './fixtures/fault-helpers.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';

const DEV = 'first-leg-dev';
let hub: HubHandle;
let proxy: FaultProxy;
let agent: Proc;
let service: ServiceClient;

beforeAll(async () => {
  const hubPort = await freePort();
  proxy = await startFaultProxy(hubPort);
  hub = await startHub(['--port', String(hubPort), '--public-url', `https://localhost:${proxy.port}`]);
  const direct = `https://localhost:${hubPort}`;
  service = createServiceClient(hub.ownerCs, { ca: hub.ca, hubUrl: direct });
  const echo = await startEchoServer();
  agent = await startAgent(hub, DEV, [`echo=127.0.0.1:${echo.port}`], ['--hub-url', direct.replace(/^https/, 'wss')]);
}, 60_000);

afterAll(async () => {
  await proxy.close();
  await stopAll();
});

describe('the first leg of a stream', () => {
  it('is tried again while the streaming endpoint resets connections: the stream carries bytes once it accepts them, and the agent never gives its leg up', async () => {
    const before = proxy.accepted;
    const logBefore = agent.output().length;
    proxy.refuse(true);
    const opening = service.initiateStream(DEV, 'echo', { connectTimeoutSeconds: 10 });
    // The legs are reset again and again while this lasts (one try for each side would be 2).
    await sleep(1500);
    proxy.refuse(false);
    const s = await opening;
    expect(await echoOnce(s, 'after the blip')).toBe('after the blip');
    s.end();
    expect(proxy.accepted - before).toBeGreaterThan(4);
    expect(agent.output().slice(logBefore)).not.toMatch(/could not connect to the streaming endpoint/);
  }, 30_000);

  it('is not tried again when the endpoint refuses its token: one connection, and the typed 401', async () => {
    const before = proxy.accepted;
    const err = await connectBridge(`wss://localhost:${proxy.port}/bridges/00000000-0000-4000-8000-000000000000`, 'not-a-token', hub.ca).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DsError);
    expect((err as DsError).status).toBe(401);
    expect(proxy.accepted - before).toBe(1);
  });
});
