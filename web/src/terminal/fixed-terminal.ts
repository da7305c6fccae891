/**
 * A read-only xterm Terminal at a size that someone else decides (a recording, a live session
 * being watched), not the window: the terminal never follows its container. Instead its font is
 * scaled so the whole screen fits the container (down to a few pixels on a phone: a whole screen
 * that is small beats one that must be panned), or, at "actual size", drawn at the terminal page's
 * font size with the container scrolling. Plain class, no React; `dispose()` releases everything.
 *
 * Writes and resizes are ordered: xterm parses writes later (in time slices), while
 * `Terminal.resize` acts at once, so a resize between two writes is applied from the write
 * callback of an empty write queued after the first one, at exactly that point of the stream.
 */
import { Terminal, type IDisposable } from '@xterm/xterm';
import { TERMINAL_FONT_FAMILY, TERMINAL_THEME } from './terminal-options';
import '@xterm/xterm/css/xterm.css';

export interface FixedTerminalOptions {
  cols: number;
  rows: number;
  /** Lines kept above the screen. Default 2000. */
  scrollback?: number;
}

/** The font size the terminal page uses, and the limits of scaling. */
const BASE_FONT_SIZE = 14;
const MIN_FONT_SIZE = 3;
const MAX_FONT_SIZE = 16;

export class FixedTerminal {
  readonly terminal: Terminal;
  readonly #container: HTMLElement;
  readonly #disposables: IDisposable[] = [];
  /** Characters written and not yet parsed by xterm. */
  #pending = 0;
  /** Resolvers of `whenWritten` promises, settled on dispose so nothing waits forever. */
  readonly #waiters = new Set<() => void>();
  #fitFrame = 0;
  #actualSize = false;
  #disposed = false;

  constructor(container: HTMLElement, options: FixedTerminalOptions) {
    this.#container = container;
    this.terminal = new Terminal({
      cols: options.cols,
      rows: options.rows,
      scrollback: options.scrollback ?? 2000,
      // Read-only: keystrokes never become input (there is no one to send them to anyway).
      disableStdin: true,
      cursorBlink: false,
      fontFamily: TERMINAL_FONT_FAMILY,
      fontSize: BASE_FONT_SIZE,
      allowProposedApi: false,
      theme: TERMINAL_THEME,
    });
    this.terminal.open(container);
    this.#disposables.push(this.terminal);
    // xterm's hidden input would be a focus stop of its own with no visible focus; the container
    // is the one the page makes focusable (with a visible ring) and gives the keys to.
    this.terminal.textarea?.setAttribute('tabindex', '-1');
    // xterm leaves every key alone, so keys reach the page (the player's shortcuts) and Ctrl+C
    // still copies the selection through the browser's copy event.
    this.terminal.attachCustomKeyEventHandler(() => false);

    const observer = new ResizeObserver(() => this.scheduleFit());
    observer.observe(container);
    this.#disposables.push({
      dispose: () => {
        observer.disconnect();
        cancelAnimationFrame(this.#fitFrame);
      },
    });
    this.scheduleFit();
  }

  /** Characters handed to xterm that it has not parsed yet (for backpressure). */
  get pendingChars(): number {
    return this.#pending;
  }

  /** Queues output. */
  write(data: string | Uint8Array): void {
    if (this.#disposed || data.length === 0) return;
    const n = data.length;
    this.#pending += n;
    this.terminal.write(data, () => {
      this.#pending -= n;
    });
  }

  /** Resizes at this point of the output stream (after everything written so far). */
  resize(cols: number, rows: number): void {
    if (this.#disposed) return;
    this.terminal.write('', () => {
      if (this.#disposed || (this.terminal.cols === cols && this.terminal.rows === rows)) return;
      this.terminal.resize(cols, rows);
      this.scheduleFit();
    });
  }

  /** Resolves once xterm has parsed everything written so far (at once after dispose). */
  whenWritten(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        resolve();
      };
      this.#waiters.add(done);
      this.terminal.write('', done);
    });
  }

  /** True: the page's font size, the container scrolls; false (the default): scaled to fit. */
  setActualSize(on: boolean): void {
    if (this.#disposed || on === this.#actualSize) return;
    this.#actualSize = on;
    if (on) this.terminal.options.fontSize = BASE_FONT_SIZE;
    else this.scheduleFit();
  }

  /** Refits the font on the next frame (after a layout change). */
  scheduleFit(): void {
    if (this.#disposed) return;
    cancelAnimationFrame(this.#fitFrame);
    this.#fitFrame = requestAnimationFrame(() => this.#fit());
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const done of [...this.#waiters]) done();
    for (const d of this.#disposables.splice(0).reverse()) d.dispose();
  }

  /**
   * Scales the font so that the screen fits the container. Character cells grow in proportion to
   * the font, so one measurement at the current size gives the size that fits.
   */
  #fit(): void {
    if (this.#actualSize) return;
    const screen = this.terminal.element?.querySelector<HTMLElement>('.xterm-screen');
    if (screen === null || screen === undefined) return;
    const width = screen.offsetWidth;
    const height = screen.offsetHeight;
    const style = getComputedStyle(this.#container);
    const availWidth = this.#container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const availHeight = this.#container.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    if (width <= 0 || height <= 0 || availWidth <= 0 || availHeight <= 0) return;
    const current = this.terminal.options.fontSize ?? BASE_FONT_SIZE;
    const ideal = current * Math.min(availWidth / width, availHeight / height);
    // Half-pixel steps, and a little slack, so rounding never leaves a scrollbar for one pixel.
    const next = Math.min(MAX_FONT_SIZE, Math.max(MIN_FONT_SIZE, Math.floor(ideal * 0.98 * 2) / 2));
    if (Math.abs(next - current) >= 0.5) this.terminal.options.fontSize = next;
  }
}
