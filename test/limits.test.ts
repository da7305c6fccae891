/**
 * Throttles and the handshake deadline, each on its own real hub process: a second concurrent
 * stream to one device (429001), a burst of initiations (429003), and an accepted stream whose
 * service side never connects (handshakeTimeout, device side closed with 4002).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startHub, stopAll, type HubHandle } from './harness.js';
import {
  acceptedStream,
  bridgeUpgrade,
  closeDevices,
  closed,
  eventually,
  expectError,
  initiate,
  registerDevice,
  rest,
  startSdkDevice,
  type RawAnswer,
} from './fixtures/bad-input-helpers.js';

interface LogEntry {
  streamId: string;
  streamName: string;
  state: string;
  result: string | null;
  reason: string | null;
  closedBy: string | null;
}

let perDevice: HubHandle;
let rate: HubHandle;
let handshake: HubHandle;

/** The rate hub's --max-initiations: its token bucket starts full with this many and refills this many per second. */
const RATE = 2;
/** The handshake hub's --handshake-timeout, in seconds. */
const HANDSHAKE_S = 2;
/**
 * Added to every deadline the hub promises before the test calls it missed: the hub's timers fire
 * late when the two shared cores are busy (the other test runs), and the test sees the outcome
 * only through a TLS REST call or a poll every 100 ms. A missed deadline of a second or more still
 * fails.
 */
const MARGIN_S = 1.5;

beforeAll(async () => {
  [perDevice, rate, handshake] = await Promise.all([
    startHub(['--max-streams-per-device', '1']),
    startHub(['--max-initiations', String(RATE)]),
    startHub(['--handshake-timeout', String(HANDSHAKE_S), '--max-streams-per-device', '1']),
  ]);
});

afterAll(async () => {
  closeDevices();
  await stopAll();
});

async function streamLog(hub: HubHandle, query: string): Promise<LogEntry[]> {
  const ans = await rest(hub, 'GET', `/streams?${query}`);
  expect(ans.status, ans.text).toBe(200);
  return (ans.json as { streams: LogEntry[] }).streams;
}

async function logEntry(hub: HubHandle, streamId: string): Promise<LogEntry> {
  const ans = await rest(hub, 'GET', `/streams/${streamId}`);
  expect(ans.status, ans.text).toBe(200);
  return ans.json as LogEntry;
}

function retryAfter(ans: RawAnswer): number {
  const v = ans.headers['retry-after'];
  expect(typeof v, 'Retry-After header').toBe('string');
  const n = Number(v);
  expect(Number.isInteger(n)).toBe(true);
  expect(n).toBeGreaterThanOrEqual(1);
  return n;
}

describe('--max-streams-per-device 1', () => {
  it('refuses a second concurrent stream to one device with 429001 and Retry-After, logged as throttled', async () => {
    const hub = perDevice;
    const keyA = await registerDevice(hub, 'lim-one');
    const keyB = await registerDevice(hub, 'lim-two');
    await startSdkDevice(hub, 'lim-one', keyA, 'echo');
    await startSdkDevice(hub, 'lim-two', keyB, 'echo');

    const first = acceptedStream(await initiate(hub, 'lim-one', 'first', { connectTimeout: '5', responseTimeout: '10' }));
    const second = await initiate(hub, 'lim-one', 'second', { connectTimeout: '5', responseTimeout: '10' });
    expectError(second, 429001, /lim-one/);
    retryAfter(second);
    expect(second.headers['iothub-streaming-is-accepted']).toBeUndefined();
    const [newest] = await streamLog(hub, 'deviceId=lim-one&limit=1');
    expect(newest).toMatchObject({ streamName: 'second', state: 'ended', result: 'throttled', closedBy: 'hub' });
    expect((await streamLog(hub, 'deviceId=lim-one&result=throttled')).length).toBeGreaterThanOrEqual(1);
    expect((await logEntry(hub, first.streamId)).result).toBe('accepted');

    // The limit is per device: another device still gets its stream.
    const other = acceptedStream(await initiate(hub, 'lim-two', 'other', { connectTimeout: '5', responseTimeout: '10' }));

    // Once the first stream ends, its slot is free again.
    for (const s of [first, other]) {
      const r = await bridgeUpgrade(hub, s.url, s.token);
      if (r.kind !== 'open') throw new Error(`bridge refused: ${r.status}`);
      const end = closed(r.ws);
      r.ws.close(1000);
      await end;
    }
    await eventually(async () => ((await logEntry(hub, first.streamId)).state === 'ended' ? true : undefined), 'the first stream to end');
    const third = await initiate(hub, 'lim-one', 'third', { connectTimeout: '5', responseTimeout: '10' });
    acceptedStream(third);
  });
});

describe(`--max-initiations ${RATE}`, () => {
  it('a burst of 10 passes the RATE a full bucket holds and no more than it refills during the burst; the rest get 429003 with Retry-After; each is logged', async () => {
    const hub = rate;
    await registerDevice(hub, 'lim-burst');
    // The bucket is full: nothing has initiated a stream on this hub since it started.
    const burstStarted = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => initiate(hub, 'lim-burst', `burst-${i}`, { connectTimeout: '0', responseTimeout: '0' })),
    );
    const burstS = (performance.now() - burstStarted) / 1000;
    const throttled = answers.filter((a) => a.status === 429);
    const passed = answers.filter((a) => a.status !== 429);
    // Every initiation of the burst took its token between burstStarted and now, so the bucket could
    // hand out at most what it held at the start plus what it refilled meanwhile.
    const mostAllowed = Math.floor(RATE + RATE * burstS);
    console.log(`limits: burst of 10 in ${(burstS * 1000).toFixed(0)} ms: ${passed.length} passed (at most ${mostAllowed} allowed), ${throttled.length} throttled`);
    expect(passed.length, 'the full bucket lets the first RATE through').toBeGreaterThanOrEqual(RATE);
    expect(passed.length, `at most RATE + RATE x ${burstS.toFixed(2)} s`).toBeLessThanOrEqual(mostAllowed);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    for (const a of throttled) {
      expectError(a, 429003, /per second/);
      retryAfter(a);
    }
    // The ones let through got as far as the device check (it is offline).
    for (const a of passed) expectError(a, 404103);
    const log = await streamLog(hub, 'deviceId=lim-burst&limit=100');
    expect(log.filter((e) => e.result === 'throttled').length).toBe(throttled.length);
    expect(log.filter((e) => e.result === 'deviceOffline').length).toBe(passed.length);
    for (const e of log) expect(e.state).toBe('ended');
    // The bucket refills: one token takes 1/RATE s, so an initiation passes again within that.
    const refillStarted = performance.now();
    await eventually(async () => {
      const a = await initiate(hub, 'lim-burst', 'later', { connectTimeout: '0', responseTimeout: '0' });
      return a.status === 404 ? a : undefined;
    }, 'an initiation to pass the throttle again', (1 / RATE + MARGIN_S) * 1000);
    expect((performance.now() - refillStarted) / 1000).toBeLessThan(1 / RATE + MARGIN_S);
  });
});

describe(`--handshake-timeout ${HANDSHAKE_S}`, () => {
  it('ends an accepted stream whose service side never connects at the deadline: handshakeTimeout, device side closed with 4002', async () => {
    const hub = handshake;
    const key = await registerDevice(hub, 'lim-shake');
    const dev = await startSdkDevice(hub, 'lim-shake', key, 'hold');
    const started = performance.now();
    const s = acceptedStream(await initiate(hub, 'lim-shake', 'lonely', { connectTimeout: '5', responseTimeout: '10' }));
    const deviceSide = await dev.nextStream();
    expect(deviceSide.streamId).toBe(s.streamId);
    const entry = await eventually(async () => {
      const e = await logEntry(hub, s.streamId);
      return e.state === 'ended' ? e : undefined;
    }, 'the stream to be logged as ended', (HANDSHAKE_S + MARGIN_S) * 1000);
    const elapsed = (performance.now() - started) / 1000;
    expect(entry).toMatchObject({ result: 'handshakeTimeout', closedBy: 'hub' });
    // The deadline counts from the initiation, which the hub received after `started`; its timer
    // may fire a few milliseconds early against this clock, hence 0.05 s.
    expect(elapsed).toBeGreaterThanOrEqual(HANDSHAKE_S - 0.05);
    expect(elapsed).toBeLessThan(HANDSHAKE_S + MARGIN_S);
    // The waiting device side is closed with 4002 then (the hub closes it in the same step as it
    // logs the end), not left half-closed.
    const code = await Promise.race([deviceSide.closed, sleep(MARGIN_S * 1000).then(() => `still open ${MARGIN_S} s after the stream was logged as ended`)]);
    expect(code).toBe(4002);

    // The late service side is refused before any WebSocket exists.
    const late = await bridgeUpgrade(hub, s.url, s.token);
    if (late.kind === 'open') late.ws.terminate();
    expect(late.kind).toBe('refused');
    if (late.kind === 'refused') expect([401, 404]).toContain(late.status);

    // The timed-out stream gave its slot back (this hub allows one stream per device).
    const next = acceptedStream(await initiate(hub, 'lim-shake', 'again', { connectTimeout: '5', responseTimeout: '10' }));
    const r = await bridgeUpgrade(hub, next.url, next.token);
    if (r.kind !== 'open') throw new Error(`bridge refused: ${r.status}`);
    r.ws.close(1000);
  });
});
