/**
 * The keys a terminal page handles before xterm: Esc then Tab leaves the terminal
 * (leave-terminal.ts); Ctrl/Cmd+Shift+C copies the selection; Ctrl/Cmd+Shift+V is left to the
 * browser's paste (copying itself is ../clipboard.ts).
 */
import { focusOutside, type LeaveKey } from './leave-terminal';

export interface TerminalKeysOptions {
  leave: LeaveKey;
  /** The terminal's element: focus leaves it for the next or previous focusable one. */
  container: HTMLElement;
  /** Whether the session is still live (Esc goes to the shell then, unless Tab follows). */
  live: () => boolean;
  copySelection: () => void;
}

/** An xterm custom key handler: false when the key was handled here and xterm must not send it. */
export function terminalKeys(o: TerminalKeysOptions): (ev: KeyboardEvent) => boolean {
  return (ev) => {
    if (ev.type === 'keydown') {
      const leave = o.leave.keydown(ev, o.live());
      if (leave !== null) {
        ev.preventDefault();
        focusOutside(o.container, leave);
        return false;
      }
    }
    if (!(ev.ctrlKey || ev.metaKey) || !ev.shiftKey || ev.altKey) return true;
    const key = ev.key.toLowerCase();
    if (key === 'c') {
      if (ev.type === 'keydown') {
        ev.preventDefault();
        o.copySelection();
      }
      return false;
    }
    // Returning false keeps xterm from sending ^V; the browser then raises a paste event, which
    // xterm turns into input (with bracketed paste when the shell asked for it).
    return key !== 'v';
  };
}
