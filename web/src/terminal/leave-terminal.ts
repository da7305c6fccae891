/**
 * Leaving the terminal by keyboard (WCAG 2.1.2, no keyboard trap). A shell needs Tab (completion)
 * and Esc (vi, readline), so neither can simply move focus. As CodeMirror does for an editor that
 * takes Tab: Esc, then Tab within two seconds, moves focus out of the terminal (Shift+Tab: back).
 * The Esc still reaches the shell; only that Tab is kept from it. Once the session has ended there
 * is no shell to type to, and Tab alone leaves.
 */

/** How the page names the key, in its status line and in the README. */
export const LEAVE_KEY_TEXT = 'Esc then Tab';

/** How long after Esc a Tab leaves the terminal (CodeMirror's window). */
export const LEAVE_WINDOW_MS = 2000;

/** Where focus goes: to the next focusable element after the terminal, or the one before it. */
export type LeaveDirection = 'next' | 'previous';

/** The parts of a KeyboardEvent this looks at. */
export interface KeyLike {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

const MODIFIERS: ReadonlySet<string> = new Set(['Shift', 'Control', 'Alt', 'Meta', 'AltGraph', 'CapsLock']);

/** Follows keydowns in the terminal and says when one means "leave". */
export class LeaveKey {
  #escapeAt: number | null = null;

  /**
   * A keydown in the terminal: the direction to leave in, or null when the key is the shell's.
   * `inputOpen` false (the session has ended) lets Tab leave without the Esc.
   */
  keydown(ev: KeyLike, inputOpen: boolean, now = Date.now()): LeaveDirection | null {
    // Shift goes down between Esc and Shift+Tab; a modifier alone does not break the sequence.
    if (MODIFIERS.has(ev.key)) return null;
    const plain = !ev.ctrlKey && !ev.altKey && !ev.metaKey;
    if (ev.key === 'Tab' && plain) {
      const armed = this.#escapeAt !== null && now - this.#escapeAt <= LEAVE_WINDOW_MS;
      this.#escapeAt = null;
      if (armed || !inputOpen) return ev.shiftKey ? 'previous' : 'next';
      return null;
    }
    this.#escapeAt = ev.key === 'Escape' && plain && !ev.shiftKey ? now : null;
    return null;
  }
}

const TABBABLE = 'a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex="-1"])';

/**
 * Moves focus to the first focusable element after `container` in document order (or the last one
 * before it), wrapping around the page as Tab does. Returns the element focused, if any.
 */
export function focusOutside(container: HTMLElement, direction: LeaveDirection): HTMLElement | undefined {
  const all = [...document.querySelectorAll<HTMLElement>(TABBABLE)].filter((el) => !container.contains(el) && el.getClientRects().length > 0);
  const after = all.filter((el) => (container.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
  const before = all.filter((el) => !after.includes(el));
  const target = direction === 'next' ? (after[0] ?? before[0]) : (before.at(-1) ?? after.at(-1));
  target?.focus();
  return target;
}
