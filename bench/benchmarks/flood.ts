/**
 * Terminal flood in the browser (Playwright driving Debian's Chromium): an operator logs in to the
 * console, opens a terminal on a device whose agent maps `shell` to `devicestreams shell-server`,
 * runs `head -c N /dev/urandom | base64` and we time from Enter to the prompt's return (in the
 * page, on xterm's rendered rows). The comparison is the same xterm.js build in a local page
 * (no network at all) writing the same amount of base64 text, in chunks of the size the console
 * received, under the same write-callback flow control watermarks, until the last callback and the
 * next animation frame. Trials alternate console, local, console, local…; each console trial opens
 * a fresh terminal session (as an operator would), so each has its own session recording.
 * Each round also runs the command on a bare PTY with nothing reading but a byte counter
 * (bench/lib/pty-rate.ts): the ceiling any console can reach on this machine.
 */
import { FLOW_HIGH_WATER_BYTES, FLOW_LOW_WATER_BYTES } from '../../web/src/terminal/flow-control.js';
import { TERMINAL_OPTIONS } from '../../web/src/terminal/terminal-options.js';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from '@playwright/test';
import { ROOT, startAgent, startShellServer, tempDir } from '../../test/harness.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import { ptyTrial } from '../lib/pty-rate.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startBenchHub } from '../lib/stack.js';
import { MiB, childPids, cpuMsOf, fmtMs, median, progress, runTracked } from '../lib/util.js';

const CHROMIUM = '/usr/bin/chromium';
const XTERM_JS = join(ROOT, 'node_modules', '@xterm', 'xterm', 'lib', 'xterm.js');
const XTERM_CSS = join(ROOT, 'node_modules', '@xterm', 'xterm', 'css', 'xterm.css');
const CLEAN_BASH = join(import.meta.dirname, '..', 'fixtures', 'clean-bash.sh');
const TARGET = 0.8;
/** The console's own flow control watermarks, imported so the local comparison never drifts. */
const FLOW_HIGH = FLOW_HIGH_WATER_BYTES;
const FLOW_LOW = FLOW_LOW_WATER_BYTES;

const browsers = new Set<Browser>();

/**
 * tsx compiles this file with esbuild's keepNames, which wraps named functions in `__name(…)`;
 * functions handed to page.evaluate carry that call into the page, where it must exist.
 */
const NAME_SHIM = 'globalThis.__name = globalThis.__name || ((f) => f);';

async function shimPage(page: Page): Promise<void> {
  await page.addInitScript(NAME_SHIM);
  await page.evaluate(NAME_SHIM);
}

/** Closes any browser a flood run left open (called on abort). */
export async function closeBrowsers(): Promise<void> {
  for (const b of [...browsers]) {
    browsers.delete(b);
    await b.close().catch(() => undefined);
  }
}

/** Bytes `head -c raw | base64` puts through a PTY: 76-column lines, each ended by CR LF (onlcr). */
export function base64TerminalBytes(raw: number): number {
  const chars = 4 * Math.ceil(raw / 3);
  return chars + 2 * Math.ceil(chars / 76);
}

interface Trial {
  ms: number;
  driverCpuMs: number;
  /** CPU ms per process (tree) during the trial. */
  cpuMs?: Record<string, number>;
}

/** Runs a trial and adds the CPU each watched process (with its children) spent meanwhile. */
async function withCpu(pids: Record<string, number>, trial: () => Promise<Trial>): Promise<Trial> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)]));
  const t = await trial();
  t.cpuMs = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid) - (before[k] ?? 0)]));
  return t;
}

/** In the console page: arm the timer (Enter keydown → marker then prompt on xterm's rows). */
async function armConsoleTimer(page: Page, marker: string): Promise<void> {
  await page.evaluate((m) => {
    const w = window as unknown as { __flood?: { t0: number; t1: number } };
    w.__flood = { t0: 0, t1: 0 };
    const rows = document.querySelector('.xterm-rows');
    if (rows === null) throw new Error('no .xterm-rows in the console page');
    const re = new RegExp(`${m}[\\s\\u00a0]*\\$`);
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Enter' && w.__flood !== undefined && w.__flood.t0 === 0) w.__flood.t0 = performance.now();
    };
    document.addEventListener('keydown', onKey, { capture: true });
    const obs = new MutationObserver(() => {
      const f = w.__flood;
      if (f === undefined || f.t1 !== 0 || f.t0 === 0) return;
      if (re.test(rows.textContent ?? '')) {
        f.t1 = performance.now();
        obs.disconnect();
        document.removeEventListener('keydown', onKey, { capture: true });
      }
    });
    obs.observe(rows, { childList: true, subtree: true, characterData: true });
  }, marker);
}

async function openConsoleTerminal(page: Page, url: string, deviceId: string): Promise<void> {
  await page.goto(`${url}/terminal/${encodeURIComponent(deviceId)}`);
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => /\$[\s\u00a0]*$/.test((document.querySelector('.xterm-rows')?.textContent ?? '').trimEnd() + ' '), undefined, { timeout: 30_000, polling: 100 });
  await page.getByRole('region', { name: 'Terminal' }).click();
}

async function consoleTrial(page: Page, url: string, deviceId: string, raw: number, tag: number, timeoutMs: number): Promise<Trial> {
  await openConsoleTerminal(page, url, deviceId);
  // The typed line shows "FD$((…))X"; only the output shows the number.
  const marker = `FD${1000 + tag}X`;
  await armConsoleTimer(page, marker);
  await page.keyboard.type(`head -c ${raw} /dev/urandom | base64; echo FD$((1000+${tag}))X`);
  const cpu0 = process.cpuUsage();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => ((window as unknown as { __flood?: { t1: number } }).__flood?.t1 ?? 0) > 0, undefined, { timeout: timeoutMs, polling: 200 });
  const cpu = process.cpuUsage(cpu0);
  const ms = await page.evaluate(() => {
    const f = (window as unknown as { __flood: { t0: number; t1: number } }).__flood;
    return f.t1 - f.t0;
  });
  return { ms, driverCpuMs: (cpu.user + cpu.system) / 1000 };
}

async function prepareLocalPage(page: Page): Promise<void> {
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#0b0e14"><div id="t" style="width:100vw;height:100vh"></div></body></html>');
  await page.addStyleTag({ path: XTERM_CSS });
  await page.addScriptTag({ path: XTERM_JS });
}

async function localTrial(page: Page, raw: number, chunk: number, cols: number, rows: number): Promise<Trial> {
  const cpu0 = process.cpuUsage();
  const ms = await page.evaluate(
    async ({ raw, chunk, cols, rows, options, high, low }) => {
      // The same bytes base64 prints through a PTY: 76-column lines of random base64, CR LF.
      const bytes = new Uint8Array(raw);
      for (let o = 0; o < raw; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(raw, o + 65536)));
      const enc = new TextEncoder();
      const chunks: Uint8Array[] = [];
      let acc = '';
      for (let o = 0; o < raw; o += 57) {
        acc += `${btoa(String.fromCharCode(...bytes.subarray(o, Math.min(raw, o + 57))))}\r\n`;
        if (acc.length >= chunk) {
          const e = enc.encode(acc);
          for (let s = 0; s < e.length; s += chunk) chunks.push(e.subarray(s, s + chunk));
          acc = '';
        }
      }
      if (acc.length > 0) chunks.push(enc.encode(acc));
      type Term = { open(el: HTMLElement): void; resize(c: number, r: number): void; write(d: Uint8Array | string, cb?: () => void): void; dispose(): void };
      const Ctor = (window as unknown as { Terminal: new (o: unknown) => Term }).Terminal;
      const term = new Ctor(options);
      const el = document.getElementById('t');
      if (el === null) throw new Error('no #t');
      term.open(el);
      term.resize(cols, rows);
      await new Promise<void>((r) => term.write('$ ', r));
      await new Promise<void>((r) => requestAnimationFrame(() => r()));
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        let i = 0;
        let pending = 0;
        const pump = (): void => {
          while (i < chunks.length && pending <= high) {
            const c = chunks[i++] as Uint8Array;
            pending += c.length;
            term.write(c, () => {
              pending -= c.length;
              if (i >= chunks.length && pending === 0) resolve();
              else if (pending < low) pump();
            });
          }
        };
        pump();
      });
      await new Promise<void>((r) => requestAnimationFrame(() => r()));
      const t1 = performance.now();
      term.dispose();
      return t1 - t0;
    },
    { raw, chunk, cols, rows, options: TERMINAL_OPTIONS, high: FLOW_HIGH, low: FLOW_LOW },
  );
  const cpu = process.cpuUsage(cpu0);
  return { ms, driverCpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function flood(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`);
  const raw = ctx.sizes.floodRawBytes;
  const bytes = base64TerminalBytes(raw);

  const build = await runTracked(process.execPath, [join(ROOT, 'scripts', 'build-web.js')], 300_000);
  if (build.code !== 0) throw new Error(`building the console failed: ${build.output.slice(-500)}`);

  const password = randomBytes(15).toString('base64url');
  const hub = await startBenchHub(ctx, [], { DEVICESTREAMS_ADMIN_PASSWORD: password });
  const home = tempDir('ds-bench-home-');
  const shell = await startShellServer([
    '--shell', CLEAN_BASH, '--cwd', home,
    '--env', 'PS1=$ ', '--env', `HOME=${home}`, '--env', `HISTFILE=${join(home, '.bash_history')}`,
  ]);
  const deviceId = 'bench-shell';
  const agent = await startAgent(hub, deviceId, [shell.map]);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  browsers.add(browser);
  try {
    const viewport = { width: 1280, height: 800 };
    const consoleCtx = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
    const origin = new URL(hub.url).origin;
    const login = await consoleCtx.request.post(`${hub.url}/api/login`, { data: { username: 'admin', password }, headers: { origin } });
    if (login.status() !== 200) throw new Error(`console login failed: HTTP ${login.status()} ${await login.text()}`);
    const consolePage = await consoleCtx.newPage();
    await shimPage(consolePage);
    let size = { cols: 80, rows: 24 };
    let frames = 0;
    let frameBytes = 0;
    let counting = false;
    consolePage.on('websocket', (ws) => {
      if (!ws.url().includes('/api/terminal')) return;
      const q = new URL(ws.url()).searchParams;
      size = { cols: Number(q.get('cols') ?? 80), rows: Number(q.get('rows') ?? 24) };
      ws.on('framereceived', (f) => {
        if (counting && typeof f.payload !== 'string') {
          frames += 1;
          frameBytes += f.payload.length;
        }
      });
    });

    // Warm-up: a small flood through the console, counting the frame sizes it receives.
    counting = true;
    await consoleTrial(consolePage, hub.url, deviceId, 300_000, 0, 120_000);
    counting = false;
    const chunk = Math.max(1024, Math.round(frameBytes / Math.max(1, frames)));
    progress(`flood: terminal ${size.cols}×${size.rows}, console frames average ${chunk} bytes`);

    const localCtx = await browser.newContext({ viewport });
    const localPage = await localCtx.newPage();
    await shimPage(localPage);
    await prepareLocalPage(localPage);
    await localPage.evaluate(NAME_SHIM);
    await localTrial(localPage, 300_000, chunk, size.cols, size.rows);

    const con: Trial[] = [];
    const loc: Trial[] = [];
    const pty: number[] = [];
    const timeoutMs = Math.max(120_000, (bytes / MiB) * 10_000);
    const pids = { hub: hub.proc.pid, agent: agent.pid, shellServer: shell.proc.pid, chromium: childPids(process.pid, /chromium/)[0] ?? 0 };
    const pageProfiles: Record<string, ProfileSummary> = {};
    // With --profile, the renderer main thread of the first trial of each kind is profiled too.
    const profiled = async (kind: 'console' | 'local', page: Page, on: boolean, trial: () => Promise<Trial>): Promise<Trial> => {
      if (!on) return trial();
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
      if (process.env.BENCH_TRACE === '1') await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'cc', 'gpu', 'toplevel'] });
      const t = await trial();
      if (process.env.BENCH_TRACE === '1') writeFileSync(join(ctx.profileDir, `${kind}-trace.json`), await browser.stopTracing());
      const { profile } = await cdp.send('Profiler.stop');
      const file = join(ctx.profileDir, `${kind}-page-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      pageProfiles[kind] = summarizeProfile(file);
      process.stderr.write(`flood: ${kind} page (renderer main thread) CPU profile\n${formatProfile(pageProfiles[kind])}\n`);
      await cdp.detach();
      return t;
    };
    for (let r = 0; r < ctx.sizes.rounds; r++) {
      await consolePage.bringToFront();
      con.push(await withCpu(pids, () => profiled('console', consolePage, ctx.profile && r === 0, () => consoleTrial(consolePage, hub.url, deviceId, raw, r + 1, timeoutMs))));
      await localPage.bringToFront();
      loc.push(await withCpu(pids, () => profiled('local', localPage, ctx.profile && r === 0, () => localTrial(localPage, raw, chunk, size.cols, size.rows))));
      pty.push(await ptyTrial(raw, bytes, size.cols, size.rows, timeoutMs));
      progress(`flood round ${r + 1}/${ctx.sizes.rounds}: console ${fmtMs(con.at(-1)?.ms ?? 0)}, local ${fmtMs(loc.at(-1)?.ms ?? 0)}, bare PTY ${fmtMs(pty.at(-1) ?? 0)}`);
    }
    const conRate = bytes / (median(con.map((t) => t.ms)) / 1000);
    const locRate = bytes / (median(loc.map((t) => t.ms)) / 1000);
    const ratio = conRate / locRate;
    const ptyRate = bytes / (median(pty) / 1000);
    const mb = (v: number): string => `${(v / 1e6).toFixed(1)} MB/s`;
    return {
      name: 'flood',
      description: `${(bytes / 1e6).toFixed(1)} MB of base64 through the console terminal (hub + BFF + agent + shell server, Chromium) vs the same xterm.js writing it locally in a page`,
      rows: [
        {
          bench: 'flood',
          metric: `terminal output rendered (${(bytes / 1e6).toFixed(1)} MB, ${size.cols}×${size.rows})`,
          project: `${mb(conRate)} (${fmtMs(median(con.map((t) => t.ms)))})`,
          comparison: `${mb(locRate)} local xterm.js`,
          ratio: `${(ratio * 100).toFixed(0)}%`,
          target: `≥ ${TARGET * 100}% of local`,
          status: status(ratio >= TARGET),
        },
        {
          bench: 'flood',
          metric: `ceiling: the same command on a bare PTY, output only counted (console at ${((conRate / ptyRate) * 100).toFixed(0)}% of it)`,
          project: mb(ptyRate),
          comparison: `${mb(locRate)} local xterm.js`,
          ratio: `${((ptyRate / locRate) * 100).toFixed(0)}%`,
          target: 'reference',
          status: 'info',
        },
      ],
      raw: {
        rawBytes: raw,
        terminalBytes: bytes,
        terminal: size,
        localChunkBytes: chunk,
        consoleMs: con.map((t) => t.ms),
        localMs: loc.map((t) => t.ms),
        barePtyMs: pty,
        barePtyBytesPerSecond: ptyRate,
        consoleBytesPerSecond: conRate,
        localBytesPerSecond: locRate,
        ratio,
        playwrightDriverCpuMs: { console: con.map((t) => t.driverCpuMs), local: loc.map((t) => t.driverCpuMs) },
        cpuMsPerTrial: { console: con.map((t) => t.cpuMs), local: loc.map((t) => t.cpuMs) },
        ...(Object.keys(pageProfiles).length > 0 ? { pageProfiles } : {}),
      },
    };
  } finally {
    browsers.delete(browser);
    await browser.close().catch(() => undefined);
  }
}
