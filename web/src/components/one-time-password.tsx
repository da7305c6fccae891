import { useEffect, useRef } from 'react';
import { useCopy } from '../clipboard';

/**
 * A password shown once, so the admin can hand it over: it is not kept anywhere, and the text says
 * so. Copy puts it on the clipboard; focus starts on Copy so a keyboard user lands on it.
 */
export function OneTimePassword({ label, password, onDone, focus = false }: { label: string; password: string; onDone: () => void; focus?: boolean }) {
  const { copied, copy } = useCopy(password);
  const copyRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (focus) copyRef.current?.focus();
  }, [focus]);
  return (
    <div className="sub one-time-password" role="group" aria-label={label}>
      <p>
        {label} <code className="mono">{password}</code>
      </p>
      <p>It will not be shown again: hand it over now.</p>
      <p>
        <button ref={copyRef} type="button" className="button button-small" onClick={copy}>
          Copy<span className="visually-hidden"> the password</span>
        </button>{' '}
        <button type="button" className="button button-small button-quiet" onClick={onDone}>
          Done
        </button>{' '}
        <span aria-live="polite">{copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Could not copy; select the password and copy it.' : ''}</span>
      </p>
    </div>
  );
}
