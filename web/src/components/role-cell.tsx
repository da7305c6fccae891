import { useId, useRef, useState } from 'react';
import type { Role } from '../../../shared/console-api';
import { ROLES } from '../api';
import { useUpdateOperator } from '../hooks/use-operators';
import { ConfirmDialog } from './confirm-dialog';

/** What an account may do with each role, as the server enforces it (said before a role is given). */
const ROLE_POWERS: Record<Role, string> = {
  admin:
    'An admin may do everything: manage operators (add and delete accounts, reset passwords, change roles), change settings, add devices, delete recordings, watch live sessions and replay every session, as well as connect to devices.',
  operator: 'An operator may connect to devices, move files, open their web apps and replay their own sessions.',
  viewer: 'A viewer may see the devices, the stream history and every replay, but may not connect to devices.',
};

const withArticle = (role: Role): string => `${role === 'viewer' ? 'a' : 'an'} ${role}`;

/**
 * An account's role: picking another one only asks (a select changes on a single arrow key, and a
 * role change ends the person's open terminals); the change is saved once confirmed, and the cell
 * says so in a status the screen reader announces. Cancel puts the select back.
 */
export function RoleCell({ name, role, isMe }: { name: string; role: Role; isMe: boolean }) {
  const id = useId();
  const change = useUpdateOperator();
  const [asked, setAsked] = useState<Role | null>(null);
  const [saved, setSaved] = useState<Role | null>(null);
  const selectRef = useRef<HTMLSelectElement>(null);

  const cancel = (): void => {
    setAsked(null);
    change.reset();
  };
  const confirm = (): void => {
    if (asked === null) return;
    // The hook refetches the accounts before this runs, so the select shows the saved role at once.
    change.mutate(
      { name, role: asked },
      {
        onSuccess: () => {
          setSaved(asked);
          setAsked(null);
        },
      },
    );
  };
  return (
    <td data-label="Role">
      <label htmlFor={`${id}-role`} className="visually-hidden">
        Role of {name}
      </label>
      <select
        ref={selectRef}
        id={`${id}-role`}
        value={asked ?? role}
        // An admin cannot demote themself (the server refuses too): another admin must.
        disabled={isMe}
        title={isMe ? 'Another admin can change your role' : undefined}
        onChange={(e) => {
          setSaved(null);
          setAsked(e.target.value as Role);
        }}
      >
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <span className="sub" role="status">
        {saved !== null && `Saved: ${name} is now ${saved}.`}
      </span>
      <ConfirmDialog
        open={asked !== null}
        title={asked === null ? '' : `Make ${name} ${withArticle(asked)}?`}
        confirmLabel={`Yes, make ${name} ${asked ?? ''}`}
        pending={change.isPending}
        error={change.error?.message ?? null}
        onConfirm={confirm}
        onCancel={cancel}
        afterClose={() => selectRef.current?.focus()}
      >
        {asked !== null && <p>{ROLE_POWERS[asked]}</p>}
        <p>Their open terminals and live watches end now, so none stays open with the old role; they stay logged in.</p>
      </ConfirmDialog>
    </td>
  );
}
