/**
 * xterm.js mounted in an element and kept fitted to it: fitted once laid out and again (debounced)
 * whenever the element changes size. The terminal session owns the shell; this owns the screen.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { TERMINAL_OPTIONS } from './terminal-options';

/** Resizes are coalesced: dragging a window edge must not send a RESIZE per pixel. */
const RESIZE_DEBOUNCE_MS = 100;

/**
 * xterm labels its hidden input textarea "Terminal input"; the page labels the terminal region
 * "Terminal", and two accessible names where one contains the other make "find by label" lookups
 * ambiguous. The textarea gets a name of its own.
 */
Terminal.strings.promptLabel = 'Shell input';

export interface FittedTerminal {
  terminal: Terminal;
  /** Fits the terminal to its element now, if the element is laid out. */
  readonly fit: () => void;
  /** Stops following the element and releases the terminal (and its addons). */
  dispose(): void;
}

export function mountFittedTerminal(container: HTMLElement): FittedTerminal {
  const terminal = new Terminal({ ...TERMINAL_OPTIONS });
  const addon = new FitAddon();
  terminal.loadAddon(addon);
  terminal.open(container);
  // fit() measures the DOM; it throws or returns nonsense while the element is hidden.
  const fit = (): void => {
    try {
      const dims = addon.proposeDimensions();
      if (dims !== undefined && Number.isFinite(dims.cols) && Number.isFinite(dims.rows) && dims.cols > 1 && dims.rows > 1) addon.fit();
    } catch {
      // not laid out yet; the ResizeObserver fits once it is
    }
  };
  fit();
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  const observer = new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(fit, RESIZE_DEBOUNCE_MS);
  });
  observer.observe(container);
  return {
    terminal,
    fit,
    dispose: () => {
      observer.disconnect();
      clearTimeout(resizeTimer);
      terminal.dispose();
    },
  };
}
