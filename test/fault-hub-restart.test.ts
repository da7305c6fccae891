/**
 * Fault suite: SIGKILL of the hub while an agent is connected and streams are live, then a start
 * on the same data directory and port. What was stored survives (registry, policies, operators,
 * history); what was live at the kill is closed in the stream log as hubRestart by the hub; the
 * agent comes back by itself; new streams work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsError } from '../shared/errors.js';
import { StreamClosedError } from '../shared/ws-duplex.js';
import { createServiceClient, type StreamLogEntry } from '../server/sdk/service-client.js';
import { ConsoleClient } from './console-client.js';
import { spawnCli, startAgent, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';
import { countAfter, echoOnce, echoStream, endedRecord, restartHub, until, waitForAfter } from './fixtures/fault-helpers.js';

const DEV = 'restart-dev';
const OFFLINE_DEV = 'restart-offline';
const LIVE_STATES = ['pending', 'accepted', 'open'];

let hub: HubHandle;
let echoPort: number;

beforeAll(async () => {
  hub = await startHub();
  echoPort = (await startEchoServer()).port;
});

afterAll(stopAll);

/** The connection string of a policy, read by the CLI from the hub's data directory. */
async function policyConnectionString(h: HubHandle, policy: string): Promise<string> {
  const p = spawnCli(['policy', 'connection-string', policy, '--data-dir', h.dataDir, '--host-name', new URL(h.url).host]);
  const m = await p.waitFor(/(HostName=\S+)/);
  return m[1] as string;
}

describe('SIGKILL of the hub with an agent connected and streams live', () => {
  it('keeps registry, policies and history, closes live records as hubRestart, and the agent reconnects by itself', async () => {
    const agent = await startAgent(hub, DEV, [`echo=127.0.0.1:${echoPort}`]);
    await hub.service.createDevice(OFFLINE_DEV); // registered, never connected
    const servicePolicyCs = await policyConnectionString(hub, 'service');
    // An operator account of the console, made while the hub runs.
    const operatorPassword = `pw-${Date.now()}-restart`;
    const added = spawnCli(['operator', 'add', 'carol', '--role', 'viewer', '--password-env', 'CAROL_PW', '--data-dir', hub.dataDir], { CAROL_PW: operatorPassword });
    expect(await added.exited).toBe(0);
    expect(await new ConsoleClient(hub).login('carol', operatorPassword)).toMatch(/^__Host-ds_session=/);
    const devicesBefore = (await hub.service.listDevices()).map((d) => ({
      deviceId: d.deviceId,
      status: d.status,
      keys: d.authentication.symmetricKey,
    }));

    // History: one stream that ran and ended before the kill.
    const historyId = await echoStream(hub.service, DEV, 'history before the kill');
    const historyBefore = await endedRecord(hub.service, historyId);
    expect(historyBefore.closedBy).toBe('service');

    // Live at the kill: one open stream (both sides connected, bytes flowing) …
    const live = await hub.service.initiateStream(DEV, 'echo', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 });
    expect(await echoOnce(live, 'live at the kill')).toBe('live at the kill');
    const liveId = live.streamId ?? '';
    await until('the live stream to be open in the log', async () => ((await hub.service.getStream(liveId)).state === 'open' ? true : undefined));
    const liveClosed = new Promise<{ at: number; err: unknown }>((resolve) => {
      let err: unknown;
      live.on('error', (e) => { err = e; });
      live.on('close', () => resolve({ at: Date.now(), err }));
    });

    // … one accepted by the device whose service side never connects …
    const acceptedAnswer = await hub.service.call('POST', `/twins/${DEV}/streams/echo`, {
      headers: { 'iothub-streaming-connect-timeout-in-seconds': '5', 'iothub-streaming-response-timeout-in-seconds': '5' },
    });
    expect(acceptedAnswer.headers['iothub-streaming-is-accepted']).toBe('True');
    const acceptedId = String(acceptedAnswer.headers['x-devicestreams-stream-id']);
    expect((await hub.service.getStream(acceptedId)).state).toBe('accepted');

    // … and one pending: the hub waits (up to 30 s) for an offline device to connect.
    const pendingCall = hub.service
      .call('POST', `/twins/${OFFLINE_DEV}/streams/echo`, {
        headers: { 'iothub-streaming-connect-timeout-in-seconds': '30', 'iothub-streaming-response-timeout-in-seconds': '5' },
      })
      .then(() => undefined, (err: unknown) => err);
    const pending = await until('a pending record for the offline device', async () => {
      const { streams } = await hub.service.listStreams({ deviceId: OFFLINE_DEV });
      return streams.find((s) => s.state === 'pending');
    });

    // Kill the hub the hard way: no shutdown code runs, so nothing gets closed in the log.
    const agentOutputAtKill = agent.output().length;
    const killedAt = Date.now();
    hub.proc.kill('SIGKILL');
    await hub.proc.exited;
    // Start again at once on the same data directory and port (old connection strings and URLs
    // stay valid); the checks below run while it boots. The agent's retries back off meanwhile
    // (0.5 s, 1 s, 2 s, 4 s … ceilings with jitter), so the shorter the gap, the sooner it is back.
    const restarting = restartHub(hub).then((h) => ({ hub2: h, readyAt: Date.now() }));
    void restarting.catch(() => undefined); // awaited below; no unhandled rejection if a check fails first

    // The service side of the live stream learns at once (its TCP connection is gone), with a typed error.
    const { at, err } = await liveClosed;
    expect(at - killedAt).toBeLessThan(2000);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err as StreamClosedError).closeCode).toBe(1006);
    // The waiting initiation fails (the hub is gone) rather than hanging.
    expect(await pendingCall).toBeInstanceOf(Error);
    // The agent notices, drops its side of the live stream, and retries with backoff.
    await waitForAfter(agent, /disconnected from the hub/, agentOutputAtKill, 2000);
    await waitForAfter(agent, new RegExp(`stream ${liveId}: ended`), agentOutputAtKill, 2000);
    await waitForAfter(agent, /reconnecting in [\d.]+ s/, agentOutputAtKill, 2000);

    const { hub2, readyAt } = await restarting;
    expect(hub2.url).toBe(hub.url);
    hub = hub2; // afterAll's stopAll kills it like any other harness process
    expect(hub2.proc.output()).toMatch(/closed 3 stream record\(s\) left open by the previous run \(hubRestart\)/);
    expect(hub2.proc.output()).not.toMatch(/First start/);

    // The agent reconnects by itself, within 10 s of the hub being back.
    await until('the agent to be connected again', async () => ((await hub2.service.getDevice(DEV)).connectionState === 'Connected' ? true : undefined), 10_000);
    const reconnectMs = Date.now() - readyAt;
    expect(reconnectMs).toBeLessThan(10_000);
    await waitForAfter(agent, /connected to the hub as/, agentOutputAtKill, 2000);
    expect(countAfter(agent, /connected to the hub as/g, agentOutputAtKill)).toBe(1);
    console.log(`fault-hub-restart: agent reconnected ${reconnectMs} ms after the restarted hub was ready (${Date.now() - killedAt} ms after the kill)`);

    // Registry intact (the same owner connection string works: policies intact too).
    const devicesAfter = (await hub2.service.listDevices()).map((d) => ({ deviceId: d.deviceId, status: d.status, keys: d.authentication.symmetricKey }));
    expect(devicesAfter).toEqual(expect.arrayContaining(devicesBefore));
    expect(devicesAfter).toHaveLength(devicesBefore.length);
    expect(await policyConnectionString(hub2, 'service')).toBe(servicePolicyCs);
    // Operators intact: the account still logs in to the restarted console, with its role.
    const console2 = new ConsoleClient(hub2);
    const cookie = await console2.login('carol', operatorPassword);
    const me = await console2.call('GET', '/api/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ name: 'carol', role: 'viewer' });

    // History intact.
    expect(await hub2.service.getStream(historyId)).toEqual(historyBefore);

    // What was live at the kill is ended by the hub with reason hubRestart.
    const liveAfter = await hub2.service.getStream(liveId);
    expect(liveAfter).toMatchObject({ state: 'ended', result: 'accepted', closedBy: 'hub', reason: 'hubRestart' });
    expect(liveAfter.endedAt).not.toBeNull();
    const acceptedAfter = await hub2.service.getStream(acceptedId);
    expect(acceptedAfter).toMatchObject({ state: 'ended', result: 'accepted', closedBy: 'hub', reason: 'hubRestart' });
    const pendingAfter = await hub2.service.getStream(pending.streamId);
    expect(pendingAfter).toMatchObject({ state: 'ended', result: 'hubRestart', closedBy: 'hub', reason: 'hubRestart' });
    const all: StreamLogEntry[] = (await hub2.service.listStreams({ limit: 1000 })).streams;
    expect(all.filter((s) => LIVE_STATES.includes(s.state))).toEqual([]);

    // New streams work, initiated with the 'service' policy read before the kill.
    const viaServicePolicy = createServiceClient(servicePolicyCs, { ca: hub2.ca, hubUrl: hub2.url });
    const newId = await echoStream(viaServicePolicy, DEV, 'after the restart');
    const newRecord = await endedRecord(hub2.service, newId);
    expect(newRecord).toMatchObject({ result: 'accepted', closedBy: 'service', initiator: 'service', bytesToDevice: 'after the restart'.length });

    // And the hub still refuses what it should: the offline device is still offline, with the typed error.
    const offline = await hub2.service.initiateStream(OFFLINE_DEV, 'echo', { connectTimeoutSeconds: 0, responseTimeoutSeconds: 1 }).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(DsError);
    expect((offline as DsError).code).toBe(404103);
  });
});
