/** `devicestreams streams` — the stream log as the command line shows it, against a real hub. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamLogEntry } from '../server/sdk/service-client.js';
import { STREAM_RESULTS } from '../server/store/records.js';
import { runCli as cli, sleep, spawnCli, startAgent, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let env: Record<string, string>;
const DEV = 'streams-dev';

beforeAll(async () => {
  hub = await startHub();
  env = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile };
  const echo = await startEchoServer();
  await startAgent(hub, DEV, [`echo=127.0.0.1:${echo.port}`]);
});

afterAll(stopAll);

/** Polls the stream log (every 100 ms, 20 s at most) until `ok` holds for a record of DEV. */
async function logged(ok: (s: StreamLogEntry) => boolean, what: string): Promise<StreamLogEntry> {
  for (let waited = 0; waited < 20_000; waited += 100) {
    const found = (await hub.service.listStreams({ deviceId: DEV, limit: 100 })).streams.find(ok);
    if (found !== undefined) return found;
    await sleep(100);
  }
  throw new Error(`no stream of ${DEV} became ${what}`);
}

/** Opens a resumable stream with `window` seconds to resume in, then kills its command outright: its connection is lost. */
async function interruptedStream(window: number): Promise<string> {
  const before = new Set((await hub.service.listStreams({ deviceId: DEV, limit: 100 })).streams.map((s) => s.streamId));
  const proc = spawnCli(['stream', DEV, '--name', 'echo', '--resume-window', String(window)], env);
  const open = await logged((s) => !before.has(s.streamId) && s.state === 'open', 'open');
  proc.kill('SIGKILL');
  await logged((s) => s.streamId === open.streamId && s.interruptedAt !== null, 'interrupted');
  return open.streamId;
}

describe('devicestreams streams', () => {
  it('a stream the hub ended because it was not resumed in time is shown and listed without "(interrupted now)"; one still in its window is shown with it', async () => {
    const waiting = await interruptedStream(600);
    const gone = await interruptedStream(1);
    const ended = await logged((s) => s.streamId === gone && s.state === 'ended', 'ended');
    // The case at hand: the hub keeps the time of the interruption on the ended record.
    expect(ended.interruptedAt).not.toBeNull();
    expect(ended.reason).toMatch(/^resumeTimeout/);
    const shown = cli(['streams', 'show', gone], env);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/, interrupted 1× resumed 0× closed by hub \(resumeTimeout: not resumed within 1 s\)\n/);
    expect(shown.out).not.toContain('interrupted now');
    const listed = cli(['streams', 'list', '--device', DEV], env).out.split('\n');
    const goneLine = listed.find((l) => l.includes(gone)) ?? '';
    expect(goneLine).toMatch(/interrupted 1× resumed 0×/);
    expect(goneLine).not.toContain('interrupted now');
    expect(cli(['streams', 'show', waiting], env).out).toMatch(/, interrupted 1× resumed 0× \(interrupted now\)\n/);
    expect(listed.find((l) => l.includes(waiting))).toMatch(/interrupted 1× resumed 0× \(interrupted now\)$/);
  });

  it('streams list whose filters match nothing says no streams match them (not "no streams recorded yet")', () => {
    expect(cli(['streams', 'list', '--device', 'nosuch'], env)).toMatchObject({ code: 0, out: 'no streams match --device "nosuch"\n' });
    expect(cli(['streams', 'list', '--device', DEV, '--result', 'nodeLost', '--operator', 'nobody'], env))
      .toMatchObject({ code: 0, out: `no streams match --device "${DEV}" --result "nodeLost" --operator "nobody"\n` });
  });

  it('streams --help lists every result the hub records, nodeLost included, and --result refuses any other with exit 2', () => {
    const help = cli(['streams', '--help']);
    const listed = /--result R {2,}only this result \(list\), one of:\n((?: {30}.*\n)+)/.exec(help.out)?.[1] ?? '';
    expect(listed.split(/[\s,]+/).filter(Boolean)).toEqual([...STREAM_RESULTS]);
    expect(STREAM_RESULTS).toContain('nodeLost');
    const bad = cli(['streams', 'list', '--result', 'lost'], env);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(`devicestreams streams: --result "lost" is not a result: use one of ${STREAM_RESULTS.join(', ')}\n`);
  });
});
