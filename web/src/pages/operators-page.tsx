import { useId, useState, type FormEvent } from 'react';
import type { Me, Role } from '../../../shared/console-api';
import { ROLES, type OperatorAccount } from '../api';
import { EmptyState, ErrorState, LoadingState, StaleWarning } from '../components/states';
import { formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useCreateOperator, useDeleteOperator, useOperators, useUpdateOperator } from '../hooks/use-operators';
import { generatePassword } from '../password';

/** The console accounts: who may log in, with which role. Admins only (the server enforces it too). */
export function OperatorsPage({ me }: { me: Me }) {
  useDocumentTitle('Operators');
  return (
    <main className="page">
      <div className="page-head">
        <h1>Operators</h1>
      </div>
      {me.role === 'admin' ? (
        <OperatorsAdmin me={me} />
      ) : (
        <p className="form-error" role="alert">
          Only admins manage operators.
        </p>
      )}
    </main>
  );
}

function OperatorsAdmin({ me }: { me: Me }) {
  const operators = useOperators();
  return (
    <>
      <AddOperatorForm />
      {operators.isPending ? (
        <LoadingState>Loading operators…</LoadingState>
      ) : operators.data === undefined ? (
        <ErrorState title="Could not load the operators." error={operators.error} onRetry={() => void operators.refetch()} />
      ) : operators.data.length === 0 ? (
        <EmptyState>
          <p>No operators yet.</p>
        </EmptyState>
      ) : (
        <>
          <StaleWarning error={operators.error} />
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Console accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {operators.data.map((op) => (
                  <OperatorRow key={op.name} operator={op} isMe={op.name === me.name} />
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

/** A password shown once, so the admin can hand it over; it is not kept anywhere. */
function OneTimePassword({ label, password, onDone }: { label: string; password: string; onDone: () => void }) {
  return (
    <p className="sub" aria-live="polite">
      {label} <code className="mono">{password}</code> — hand it over now; it will not be shown again.{' '}
      <button type="button" className="button button-small button-quiet" onClick={onDone}>
        Done
      </button>
    </p>
  );
}

function AddOperatorForm() {
  const id = useId();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');
  const [generated, setGenerated] = useState<string | null>(null);
  const create = useCreateOperator();

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    create.mutate(
      { name: name.trim(), password, role },
      {
        onSuccess: () => {
          setName('');
          setRole('operator');
          setPassword('');
          setGenerated(null);
        },
      },
    );
  };

  return (
    <form className="filters" aria-label="Add operator" onSubmit={submit}>
      <h2 className="visually-hidden">Add operator</h2>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input id={`${id}-name`} type="text" value={name} required autoComplete="off" spellCheck={false} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-role`}>Role</label>
        <select id={`${id}-role`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          type="password"
          value={password}
          required
          minLength={8}
          autoComplete="new-password"
          onChange={(e) => {
            setPassword(e.target.value);
            setGenerated(null);
          }}
        />
      </div>
      <button
        type="button"
        className="button"
        onClick={() => {
          const p = generatePassword();
          setPassword(p);
          setGenerated(p);
        }}
      >
        Generate
      </button>
      <button type="submit" className="button button-primary" disabled={create.isPending}>
        Add
      </button>
      {generated !== null && <OneTimePassword label="Generated password:" password={generated} onDone={() => setGenerated(null)} />}
      {create.isError && (
        <p className="form-error" role="alert">
          Could not add the operator: {create.error.message}
        </p>
      )}
    </form>
  );
}

function OperatorRow({ operator, isMe }: { operator: OperatorAccount; isMe: boolean }) {
  const { name } = operator;
  const id = useId();
  const changeRole = useUpdateOperator();
  const resetPassword = useUpdateOperator();
  const remove = useDeleteOperator();
  const [newPassword, setNewPassword] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  // While saving, the select shows what was asked for; the refetch settles it either way.
  const shownRole = changeRole.isPending ? (changeRole.variables.role ?? operator.role) : operator.role;
  const error = changeRole.error ?? resetPassword.error ?? remove.error;

  return (
    <tr>
      <th scope="row" className="mono">
        {name}
        {isMe && <span className="muted"> (you)</span>}
      </th>
      <td>
        <label htmlFor={`${id}-role`} className="visually-hidden">
          Role of {name}
        </label>
        <select
          id={`${id}-role`}
          value={shownRole}
          // An admin cannot demote themself (the server refuses too): another admin must.
          disabled={changeRole.isPending || isMe}
          title={isMe ? 'Another admin can change your role' : undefined}
          onChange={(e) => changeRole.mutate({ name, role: e.target.value as Role })}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </td>
      <td>
        <time dateTime={operator.createdAt}>{formatDateTime(operator.createdAt)}</time>
      </td>
      <td className="actions">
        <button
          type="button"
          className="button button-small"
          disabled={resetPassword.isPending}
          onClick={() => {
            const password = generatePassword();
            setNewPassword(null);
            resetPassword.mutate({ name, password }, { onSuccess: () => setNewPassword(password) });
          }}
        >
          Reset password<span className="visually-hidden"> for {name}</span>
        </button>{' '}
        {!isMe &&
          (confirming ? (
            <>
              <button type="button" className="button button-small button-primary" disabled={remove.isPending} onClick={() => remove.mutate(name, { onError: () => setConfirming(false) })}>
                Yes, delete<span className="visually-hidden"> {name}</span>
              </button>{' '}
              <button type="button" className="button button-small button-quiet" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" className="button button-small" onClick={() => setConfirming(true)}>
              Delete<span className="visually-hidden"> {name}</span>
            </button>
          ))}
        {newPassword !== null && <OneTimePassword label={`New password for ${name}:`} password={newPassword} onDone={() => setNewPassword(null)} />}
        {error !== null && (
          <p className="form-error" role="alert">
            {error.message}
          </p>
        )}
      </td>
    </tr>
  );
}
