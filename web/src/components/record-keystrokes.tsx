import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { isApiError, queryKeys, updateSettings } from '../api';
import { useSettings } from '../hooks/use-settings';
import { ConfirmDialog } from './confirm-dialog';

/**
 * The admin's "Record keystrokes" switch (ConsoleSettings.recordInput). Turning it on records
 * passwords typed into terminals, so it asks first; turning it off (the safe direction) does not.
 * Shown to admins only (Settings page); the server refuses anyone else (403).
 */
export function RecordKeystrokes() {
  const id = useId();
  const settings = useSettings(true);
  const queryClient = useQueryClient();
  const boxRef = useRef<HTMLInputElement>(null);
  const [confirming, setConfirming] = useState(false);
  // While saving, the box shows what was asked for (set in the click's own render, so the box
  // never flips back for a moment); a failure puts it back.
  const [asked, setAsked] = useState<boolean | null>(null);
  const save = useMutation({
    mutationFn: updateSettings,
    onSuccess: (next) => {
      queryClient.setQueryData(queryKeys.settings(), next);
      setConfirming(false);
    },
    onSettled: () => setAsked(null),
  });
  const saveError = save.isError
    ? isApiError(save.error, 403, 'http_403')
      ? 'Your role may not change settings; only admins can.'
      : `Could not save: ${save.error.message}`
    : null;
  const checked = asked ?? settings.data?.recordInput ?? false;
  return (
    <section className="setting" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="setting-title">
        Session recording
      </h2>
      <p className="setting-text">
        Every terminal session opened from the console is recorded (its output), and can be replayed from the History page. Keystrokes are not
        recorded unless you turn that on here.
      </p>
      <div className="setting-row">
        <input
          ref={boxRef}
          id={id}
          type="checkbox"
          checked={checked}
          disabled={settings.data === undefined || asked !== null}
          aria-describedby={`${id}-warning`}
          onChange={(e) => {
            if (e.target.checked) {
              save.reset();
              setConfirming(true);
              return;
            }
            setAsked(false);
            save.mutate({ recordInput: false });
          }}
        />
        <label htmlFor={id}>Record keystrokes</label>
      </div>
      <p id={`${id}-warning`} className="setting-warning">
        Warning: passwords typed into terminals will be recorded too. Applies to sessions opened after the change.
      </p>
      {settings.isError && (
        <p className="setting-error" role="alert">
          Could not load the settings: {settings.error.message}
        </p>
      )}
      {saveError !== null && !confirming && (
        <p className="setting-error" role="alert">
          {saveError}
        </p>
      )}
      <ConfirmDialog
        open={confirming}
        title="Record keystrokes?"
        confirmLabel="Yes, record keystrokes"
        pending={save.isPending}
        error={saveError}
        onConfirm={() => {
          setAsked(true);
          save.mutate({ recordInput: true });
        }}
        onCancel={() => setConfirming(false)}
        afterClose={() => boxRef.current?.focus()}
      >
        <p>Everything typed into terminals from the next session on will be recorded — passwords too.</p>
        <p>Anyone who may replay a session (admins, viewers, and the operator who opened it) will be able to read them.</p>
      </ConfirmDialog>
    </section>
  );
}
