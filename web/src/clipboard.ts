/**
 * Copying to the clipboard from the console: the Clipboard API where the page may use it, and a
 * hidden text area with the copy command where it may not (a console reached over plain HTTP is
 * not a secure context, and `navigator.clipboard` is then missing altogether).
 */
import { useState } from 'react';

/** Puts `text` on the clipboard; false when the browser refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    // Throws a TypeError of its own when the API is missing (plain HTTP): the fallback then.
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return copyWithTextarea(text);
  }
}

function copyWithTextarea(text: string): boolean {
  // Focus comes back to the button that asked, as a screen-reader user expects.
  const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  // Inside an open modal dialog everything else is inert: a text area there could not be selected.
  (before?.closest('dialog[open]') ?? document.body).appendChild(ta);
  ta.focus({ preventScroll: true });
  ta.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  } finally {
    ta.remove();
    before?.focus();
  }
}

export type CopyState = 'yes' | 'failed' | null;

/**
 * A Copy button's action and what it says afterwards ("Copied." or how to copy by hand), for the
 * text it copied: a new text (another password) starts with nothing said.
 */
export function useCopy(text: string): { copied: CopyState; copy: () => void } {
  const [done, setDone] = useState<{ text: string; state: CopyState }>({ text, state: null });
  const copy = (): void => {
    void copyText(text).then((ok) => setDone({ text, state: ok ? 'yes' : 'failed' }));
  };
  return { copied: done.text === text ? done.state : null, copy };
}
