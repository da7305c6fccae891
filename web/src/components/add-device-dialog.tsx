import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { ConsoleEnrollmentToken } from '../../../shared/console-api';
import { checkEnrollmentForm, formatCountdown, TTL_CHOICES, type EnrollmentFormField } from '../devices/enrollment-form';
import { useCopy } from '../clipboard';
import { useCountdown } from '../hooks/use-countdown';
import { useCreateEnrollmentToken } from '../hooks/use-enrollment';
import { useModalDialog } from '../hooks/use-modal-dialog';

export interface AddDeviceDialogProps {
  open: boolean;
  onClose: () => void;
  /** Called once the dialog has closed, to put the focus back (on the button that opened it). */
  afterClose: () => void;
}

/**
 * "Add device" (admins): the device's id or a pattern, its tags and services, how long the token
 * lives → the one line to paste on the device, with Copy and a live countdown to the token's
 * expiry. A modal native <dialog>: the browser keeps focus inside and Esc closes it; the caller
 * puts focus back where it was. Nothing is kept once it closes — the command carries a one-use
 * token, and the device shows up in the list by itself when its agent connects.
 */
export function AddDeviceDialog({ open, onClose, afterClose }: AddDeviceDialogProps) {
  const id = useId();
  const create = useCreateEnrollmentToken();
  const [created, setCreated] = useState<ConsoleEnrollmentToken | null>(null);
  const ref = useModalDialog(open, () => {
    // Nothing outlives the dialog: the command's token is for one paste.
    setCreated(null);
    create.reset();
    afterClose();
  });

  return (
    <dialog
      ref={ref}
      className="dialog dialog-wide"
      aria-labelledby={`${id}-title`}
      onCancel={(e) => {
        // Esc: React owns whether it is open.
        e.preventDefault();
        if (!create.isPending) onClose();
      }}
    >
      <h2 id={`${id}-title`}>Add device</h2>
      {open && (created === null ? (
        <EnrollmentForm pending={create.isPending} serverError={create.error?.message ?? null} onCancel={onClose} onSubmit={(spec) => create.mutate(spec, { onSuccess: setCreated })} />
      ) : (
        <InstallCommand token={created} onAnother={() => { setCreated(null); create.reset(); }} onDone={onClose} />
      ))}
    </dialog>
  );
}

function EnrollmentForm({ pending, serverError, onCancel, onSubmit }: {
  pending: boolean;
  serverError: string | null;
  onCancel: () => void;
  onSubmit: (spec: { target: string; tags: Record<string, string>; maps: string[]; ttlSeconds: number }) => void;
}) {
  const id = useId();
  const [target, setTarget] = useState('');
  const [tags, setTags] = useState('');
  const [shell, setShell] = useState(true);
  const [files, setFiles] = useState(false);
  const [services, setServices] = useState('');
  const [ttlSeconds, setTtl] = useState(3600);
  const [invalid, setInvalid] = useState<{ field: EnrollmentFormField; message: string } | null>(null);
  const fields = { target: useRef<HTMLInputElement>(null), tags: useRef<HTMLTextAreaElement>(null), services: useRef<HTMLTextAreaElement>(null) };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const checked = checkEnrollmentForm({ target, tags, shell, files, services, ttlSeconds });
    if (!checked.ok) {
      setInvalid({ field: checked.field, message: checked.message });
      fields[checked.field].current?.focus();
      return;
    }
    setInvalid(null);
    onSubmit(checked.spec);
  };
  const errorFor = (field: EnrollmentFormField) =>
    invalid?.field === field ? { 'aria-invalid': true, 'aria-describedby': `${id}-${field}-hint ${id}-error` } : { 'aria-describedby': `${id}-${field}-hint` };

  return (
    <form className="enroll-form" onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor={`${id}-target`}>Device id or pattern</label>
        <input id={`${id}-target`} ref={fields.target} value={target} onChange={(e) => setTarget(e.target.value)} spellCheck={false} autoComplete="off" autoFocus {...errorFor('target')} />
        <span id={`${id}-target-hint`} className="field-hint">
          A pattern such as <code>sensor-*</code> lets the device register under its host name.
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${id}-tags`}>Tags</label>
        <textarea id={`${id}-tags`} ref={fields.tags} rows={2} value={tags} onChange={(e) => setTags(e.target.value)} spellCheck={false} {...errorFor('tags')} />
        <span id={`${id}-tags-hint`} className="field-hint">
          One <code>KEY=VALUE</code> a line, e.g. <code>site=plant-2</code>.
        </span>
      </div>
      <fieldset className="enroll-services">
        <legend>Services</legend>
        <label className="check">
          <input type="checkbox" checked={shell} onChange={(e) => setShell(e.target.checked)} /> Terminal (shell)
        </label>
        <label className="check">
          <input type="checkbox" checked={files} onChange={(e) => setFiles(e.target.checked)} /> Files (files)
        </label>
        <div className="field">
          <label htmlFor={`${id}-services`}>Other services</label>
          <textarea id={`${id}-services`} ref={fields.services} rows={2} value={services} onChange={(e) => setServices(e.target.value)} spellCheck={false} {...errorFor('services')} />
          <span id={`${id}-services-hint`} className="field-hint">
            One <code>NAME=HOST:PORT</code> a line on the device, e.g. <code>ssh=127.0.0.1:22</code>.
          </span>
        </div>
      </fieldset>
      <div className="field">
        <label htmlFor={`${id}-ttl`}>Token valid for</label>
        <select id={`${id}-ttl`} value={ttlSeconds} onChange={(e) => setTtl(Number(e.target.value))}>
          {TTL_CHOICES.map((c) => (
            <option key={c.seconds} value={c.seconds}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      {(invalid !== null || serverError !== null) && (
        <p id={`${id}-error`} className="form-error" role="alert">
          {invalid?.message ?? serverError}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onCancel} disabled={pending}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={pending}>
          {pending ? 'Creating…' : 'Create install command'}
        </button>
      </div>
    </form>
  );
}

function InstallCommand({ token, onAnother, onDone }: { token: ConsoleEnrollmentToken; onAnother: () => void; onDone: () => void }) {
  const id = useId();
  const copyRef = useRef<HTMLButtonElement>(null);
  const { copied, copy } = useCopy(token.installCommand);
  const left = useCountdown(Date.parse(token.expiresAt)) ?? 0;
  useEffect(() => {
    copyRef.current?.focus();
  }, []);
  const who = token.pattern ? <>a device named <code>{token.target}</code> (it registers under its host name)</> : <>device <code>{token.target}</code></>;
  return (
    <div className="enroll-result">
      <p>
        Paste this on {who}, as root, to install the agent and bring it online. It works once.
      </p>
      <pre className="install-command" id={`${id}-command`} tabIndex={0} aria-label="Install command">
        <code>{token.installCommand}</code>
      </pre>
      <p className="enroll-actions">
        <button ref={copyRef} type="button" className="button button-small" onClick={copy} aria-describedby={`${id}-command`}>
          Copy<span className="visually-hidden"> the install command</span>
        </button>{' '}
        <span aria-live="polite">{copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Could not copy; select the command and copy it.' : ''}</span>
      </p>
      {left > 0 ? (
        <p className="muted">
          The token expires in <span className="countdown">{formatCountdown(left)}</span>
          <span className="visually-hidden"> (at {new Date(token.expiresAt).toLocaleTimeString()})</span>.{' '}
          The device shows up in the list by itself once its agent connects.
        </p>
      ) : (
        <p className="form-error" role="alert">
          This token has expired; create another.
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onAnother}>
          Add another
        </button>
        <button type="button" className="button button-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
