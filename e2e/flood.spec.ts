/**
 * A shell that floods the terminal: Ctrl+C must get through and what is typed next must show up
 * promptly, the page must stay responsive, and the hub's memory must stay bounded (flow control
 * from xterm's parser back to the device's PTY).
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
 * what is in flight after the Ctrl+C to about the 1 MiB window (it was 2–12 MiB before it); measured
 * 0.6 s with the machine's load average near 10.
 */
const ECHO_LIMIT_MS = 1000;
/** Output still arriving after the Ctrl+C: the ACK window plus a PTY read or two. */
const TAIL_LIMIT_MIB = 2;
/** A page.evaluate round trip during the flood. */
const EVAL_TARGET_MS = 1000;
/** Even a starved machine answers within this; a tab frozen by an unparsed backlog does not. */
const EVAL_FROZEN_MS = 5000;
const HUB_GROWTH_LIMIT_MIB = 200;

test('a flood can be interrupted, the next command echoes promptly, the page and the hub stay fine', async ({ page, stack }) => {
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

  const rssBefore = rssOf(hubPid);
  let rssMax = rssBefore;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssOf(hubPid))), 100);
  try {
    await typeLine(page, 'head -c 50000000 /dev/urandom | base64');
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
        `hub RSS ${(rssBefore / MiB).toFixed(0)} MiB before, ${(rssMax / MiB).toFixed(0)} MiB at most (+${growthMiB.toFixed(1)} MiB)`,
    );

    expect(tail / MiB, 'output that still arrived after the Ctrl+C (MiB)').toBeLessThan(TAIL_LIMIT_MIB);
    expect(echoMs, 'Ctrl+C to the output of the next command (ms)').toBeLessThan(ECHO_LIMIT_MS);
    expect(median, 'median page.evaluate round trip during the flood (ms)').toBeLessThan(EVAL_TARGET_MS);
    expect(evalMs.filter((ms) => ms < EVAL_TARGET_MS).length, `page.evaluate round trips under ${EVAL_TARGET_MS} ms: ${evalMs.join(', ')}`).toBeGreaterThanOrEqual(
      Math.ceil(evalMs.length * 0.8),
    );
    expect(slowest, 'slowest page.evaluate round trip during the flood (ms)').toBeLessThan(EVAL_FROZEN_MS);
    expect(growthMiB, 'hub RSS growth during the flood (MiB)').toBeLessThan(HUB_GROWTH_LIMIT_MIB);

    // The shell is usable again and ends cleanly.
    await typeLine(page, 'exit');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  } finally {
    clearInterval(sampler);
  }
});
