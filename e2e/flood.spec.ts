/**
 * A shell that floods the terminal: Ctrl+C must get through and what is typed next must show up
 * promptly, the page must stay responsive, and the hub's memory must grow by no more than flow
 * control lets it hold plus a runtime margin (flow control from xterm's parser back to the device's
 * PTY).
 *
 * Timing on a shared two-core machine: the figure for the echo after Ctrl+C is 1 s, and
 * page.evaluate should answer within 1 s. Both are logged; the assertions leave room for a machine
 * other jobs are loading (see the limits below) while still failing on a frozen tab or a runaway hub.
 */
import { rssOf } from '../test/harness.js';
import { apiLogin, openTerminal, tag, terminalRegion, typeLine, waitForTerminal } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

const MiB = 1024 * 1024;
const FLOOD_MS = 3000;
/**
 * Ctrl+C to the next command's output: the 1 s. The ACK window (terminal-protocol.ts) keeps
 * what is in flight after the Ctrl+C to about the 1 MiB window; measured 0.6 s with the machine's
 * load average near 10.
 */
const ECHO_LIMIT_MS = 1000;
/** Output still arriving after the Ctrl+C: the ACK window plus a PTY read or two. */
const TAIL_LIMIT_MIB = 2;
/** A page.evaluate round trip during the flood. */
const EVAL_TARGET_MS = 1000;
/** Even a starved machine answers within this; a tab frozen by an unparsed backlog does not. */
const EVAL_FROZEN_MS = 5000;
/** The flood: 50,000,000 random bytes as base64, 76 characters and a newline per line (64 MiB). */
const FLOOD_SOURCE_BYTES = 50_000_000;
const FLOOD_BYTES = Math.ceil(FLOOD_SOURCE_BYTES / 3) * 4 * (77 / 76);
/**
 * How much the hub (hub, gateway and console in one process) may grow during the flood, once a
 * warm-up has grown its runtime to its working size for terminal traffic (a cold hub takes 30–45 MiB
 * more for the first 10 MB of terminal output whatever it buffers).
 *
 * Terminal output the hub may hold, by flow control:
 *   - the shell server keeps at most ACK_WINDOW_BYTES (1 MiB, shared/terminal-protocol.ts) sent and
 *     not yet acknowledged by the page, on all hops together;
 *   - without ACKs the hops cap themselves: the gateway's bridge pauses the device side at
 *     BRIDGE_HIGH_WATER_BYTES (1 MiB, shared/limits.ts) plus one frame (MAX_FRAME_BYTES, 64 KiB),
 *     the console's terminal bridge at HIGH_WATER (128 KiB, server/bff/terminal-bridge.ts) plus
 *     one frame: 1 MiB + 64 KiB + 128 KiB + 64 KiB = 1.25 MiB;
 *   - a byte is held in at most three copies inside the process at once (the TLS record it came
 *     in, the frame payload, the TLS record it goes out in): 3 × 1.25 MiB ≈ 4 MiB.
 * Runtime margin: 16 MiB (after the warm-up, the hub's RSS moved by up to 11 MiB over a flood like
 * this one with nothing buffered: V8's heap and malloc take and return pages in MiB-sized steps).
 * Bound: 4 + 16 = 20 MiB, under a third of the flood (64 MiB): a hub that buffered the flood for a
 * slow page, even only the part the page had not rendered yet, would cross it.
 */
const HUB_WINDOW_MIB = 4;
const HUB_RUNTIME_MARGIN_MIB = 16;
const HUB_GROWTH_LIMIT_MIB = HUB_WINDOW_MIB + HUB_RUNTIME_MARGIN_MIB;

test('a flood can be interrupted, the next command echoes promptly, the page stays responsive, the hub grows by at most its flow-control window plus a runtime margin', async ({ page, stack }) => {
  const { admin, devices, hubPid } = stack;
  await apiLogin(page.request, admin);
  // Binary messages the page's WebSockets deliver and the Ctrl+C keydown, timed in the page itself:
  // the driver's own frame events arrive late when the machine is busy, which made bytes the page
  // had before the Ctrl+C look as if they came after it.
  await page.addInitScript(() => {
    const w = window as unknown as { __arrivals: Array<[number, number]>; __ctrlC: number; WebSocket: typeof WebSocket };
    w.__arrivals = [];
    w.__ctrlC = 0;
    const Native = w.WebSocket;
    w.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('message', (e: MessageEvent) => {
          const d: unknown = e.data;
          if (d instanceof ArrayBuffer) w.__arrivals.push([performance.now(), d.byteLength]);
          else if (d instanceof Blob) w.__arrivals.push([performance.now(), d.size]);
        });
      }
    };
    document.addEventListener('keydown', (e) => {
      if (e.ctrlKey && e.key.toLowerCase() === 'c' && w.__ctrlC === 0) w.__ctrlC = performance.now();
    }, { capture: true });
  });
  await openTerminal(page, devices.shell);
  const { rows } = terminalRegion(page);
  expect(HUB_GROWTH_LIMIT_MIB * MiB, 'the hub bound is well below the flood').toBeLessThan(FLOOD_BYTES / 3);

  // Warm-up: 13.5 MB of terminal output to its end, so the hub's runtime has grown to its working
  // size before the baseline (it could buffer at most these 13.5 MB, less than what the flood would
  // add on top if it buffered). The screen is cleared after it: its lines look like the flood's.
  const warm = `warm-${tag()}`;
  await typeLine(page, `head -c 10000000 /dev/zero | base64; printf '\\033[H\\033[2J'; echo ${warm}-$((6*7))`);
  await waitForTerminal(page, new RegExp(`^${warm}-42$`, 'm'), 30_000);

  const rssBefore = rssOf(hubPid);
  let rssMax = rssBefore;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssOf(hubPid))), 100);
  try {
    await typeLine(page, `head -c ${FLOOD_SOURCE_BYTES} /dev/urandom | base64`);
    // The flood is on once base64 lines (76 characters) fill the screen.
    await waitForTerminal(page, /^[A-Za-z0-9+/]{76}$/m);

    const evalMs: number[] = [];
    const floodEnd = Date.now() + FLOOD_MS;
    while (Date.now() < floodEnd) {
      const t = Date.now();
      expect(await page.evaluate(() => 1 + 1)).toBe(2);
      evalMs.push(Date.now() - t);
      await page.waitForTimeout(200);
    }
    // Still flooding when we interrupt.
    await expect(rows).toContainText(/[A-Za-z0-9+/]{76}/);

    // Ctrl+C, then at once the next command (typed while the flood's tail still arrives).
    const word = `after-flood-${tag()}`;
    const interruptedAt = Date.now();
    await page.keyboard.press('Control+C');
    await typeLine(page, `echo ${word}-$((6*7))`);
    await waitForTerminal(page, new RegExp(`^${word}-42$`, 'm'), 30_000);
    const echoMs = Date.now() - interruptedAt;

    const { tail, total } = await page.evaluate(() => {
      const w = window as unknown as { __arrivals: Array<[number, number]>; __ctrlC: number };
      let after = 0;
      let all = 0;
      for (const [at, bytes] of w.__arrivals) {
        all += bytes;
        if (at >= w.__ctrlC) after += bytes;
      }
      return { tail: after, total: all };
    });
    const growthMiB = (rssMax - rssBefore) / MiB;
    const sorted = [...evalMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const slowest = sorted.at(-1) ?? 0;
    console.log(
      `flood: next command's output ${echoMs} ms after Ctrl+C (${(tail / MiB).toFixed(1)} MiB still arrived after it, ` +
        `${(total / MiB).toFixed(1)} MiB in all); page.evaluate median ${median} ms, slowest ${slowest} ms over ${evalMs.length}; ` +
        `hub RSS ${(rssBefore / MiB).toFixed(0)} MiB after the warm-up, ${(rssMax / MiB).toFixed(0)} MiB at most (+${growthMiB.toFixed(1)} MiB; bound ${HUB_GROWTH_LIMIT_MIB} MiB)`,
    );

    expect(tail / MiB, 'output that still arrived after the Ctrl+C (MiB)').toBeLessThan(TAIL_LIMIT_MIB);
    expect(echoMs, 'Ctrl+C to the output of the next command (ms)').toBeLessThan(ECHO_LIMIT_MS);
    expect(median, 'median page.evaluate round trip during the flood (ms)').toBeLessThan(EVAL_TARGET_MS);
    expect(evalMs.filter((ms) => ms < EVAL_TARGET_MS).length, `page.evaluate round trips under ${EVAL_TARGET_MS} ms: ${evalMs.join(', ')}`).toBeGreaterThanOrEqual(
      Math.ceil(evalMs.length * 0.8),
    );
    expect(slowest, 'slowest page.evaluate round trip during the flood (ms)').toBeLessThan(EVAL_FROZEN_MS);
    expect(growthMiB, 'hub RSS growth during the flood over the warm baseline (MiB)').toBeLessThan(HUB_GROWTH_LIMIT_MIB);

    // The shell is usable again and ends cleanly.
    await typeLine(page, 'exit');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  } finally {
    clearInterval(sampler);
  }
});
