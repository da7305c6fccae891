/**
 * The three states every data screen has besides "here is your data": loading, empty, error.
 * Deliberately without role="status" — the terminal page's status line is the one status region
 * tests and screen readers look for.
 */
import type { ReactNode } from 'react';

export function LoadingState({ children }: { children: ReactNode }) {
  return (
    <p className="state state-loading" aria-busy="true">
      <span className="spinner" aria-hidden="true" />
      {children}
    </p>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorState({ title, error, onRetry }: { title: string; error: unknown; onRetry?: () => void }) {
  const message = error instanceof Error ? error.message : 'Something went wrong.';
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>{title}</strong> {message}
      </p>
      {onRetry !== undefined && (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A failed background refresh: the last list stays on screen, with this warning above it. */
export function StaleWarning({ error }: { error: Error | null }) {
  if (error === null) return null;
  return (
    <p className="inline-warning" role="alert">
      Could not refresh the list: {error.message} Showing the last known state.
    </p>
  );
}
