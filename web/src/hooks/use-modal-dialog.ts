import { useEffect, useRef, type RefObject } from 'react';

/**
 * Shows a native <dialog> as a modal while `open` is true (the browser keeps focus inside it) and
 * closes it when `open` turns false, then calls `onClosed` — the latest one given, so callers need
 * not keep it stable. React owns whether it is open: the dialog's Esc (cancel) event should only ask
 * the caller to set `open` false.
 */
export function useModalDialog(open: boolean, onClosed: () => void): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  const onClosedRef = useRef(onClosed);
  onClosedRef.current = onClosed;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) {
      dialog.close();
      onClosedRef.current();
    }
  }, [open]);
  return ref;
}
