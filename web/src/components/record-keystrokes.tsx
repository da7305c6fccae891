import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { isApiError, queryKeys, updateSettings } from '../api';
import { useSettings } from '../hooks/use-settings';

/**
 * The admin's "Record keystrokes" switch (ConsoleSettings.recordInput), with the warning that
 * comes with it. Shown to admins only; the server refuses anyone else (403).
 */
export function RecordKeystrokes() {
  const id = useId();
  const settings = useSettings(true);
  const queryClient = useQueryClient();
  // While saving, the box shows what was asked for (set in the click's own render, so the box
  // never flips back for a moment); a failure puts it back.
  const [asked, setAsked] = useState<boolean | null>(null);
  const save = useMutation({
    mutationFn: updateSettings,
    onSuccess: (next) => queryClient.setQueryData(queryKeys.settings(), next),
    onSettled: () => setAsked(null),
  });
  const checked = asked ?? settings.data?.recordInput ?? false;
  return (
    <section className="setting" aria-label="Recording settings">
      <div className="setting-row">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          disabled={settings.data === undefined || asked !== null}
          aria-describedby={`${id}-warning`}
          onChange={(e) => {
            setAsked(e.target.checked);
            save.mutate({ recordInput: e.target.checked });
          }}
        />
        <label htmlFor={id}>Record keystrokes</label>
      </div>
      <p id={`${id}-warning`} className="setting-warning">
        Warning: passwords typed into terminals will be recorded too.
      </p>
      {settings.isError && (
        <p className="setting-error" role="alert">
          Could not load the settings: {settings.error.message}
        </p>
      )}
      {save.isError && (
        <p className="setting-error" role="alert">
          {isApiError(save.error, 403, 'http_403') ? 'Your role may not change settings; only admins can.' : `Could not save: ${save.error.message}`}
        </p>
      )}
    </section>
  );
}
