import { useId, type ReactNode } from 'react';
import { useModalDialog } from '../hooks/use-modal-dialog';

export interface ConfirmDialogProps {
  /** Shown (as a modal) while true. */
  open: boolean;
  title: string;
  /** What will happen, in words. */
  children: ReactNode;
  /** The confirming button's text, e.g. "Yes, delete otto". */
  confirmLabel: string;
  pending: boolean;
  /** Why the last try failed, shown in the dialog. */
  error: string | null;
  onConfirm: () => void;
  /** Cancel or Esc (the caller sets `open` false, as it does after success). */
  onCancel: () => void;
  /** Called once the dialog has closed, to put the focus somewhere sensible (the button that opened it, or what replaced it). */
  afterClose: () => void;
}

/**
 * A modal confirmation on the native <dialog>: the browser keeps focus inside it and Esc cancels.
 * Cancel has the first focus, so Enter on a dialog opened by mistake does nothing harmful. The
 * caller says where focus goes after it closes: left alone, the browser would put it back on the
 * opening button even when that button is gone (a deleted row's).
 */
export function ConfirmDialog({ open, title, children, confirmLabel, pending, error, onConfirm, onCancel, afterClose }: ConfirmDialogProps) {
  const ref = useModalDialog(open, afterClose);
  const headingId = useId();
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={headingId}
      onCancel={(e) => {
        // Esc: React owns whether it is open.
        e.preventDefault();
        if (!pending) onCancel();
      }}
    >
      <h2 id={headingId}>{title}</h2>
      {children}
      {error !== null && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onCancel} autoFocus disabled={pending}>
          Cancel
        </button>
        <button type="button" className="button button-danger" onClick={onConfirm} disabled={pending}>
          {pending ? 'Working…' : confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
