import { useRef, useState } from 'react';
import type { Me } from '../../../shared/console-api';
import type { OperatorAccount } from '../api';
import { AddOperatorForm } from '../components/add-operator-form';
import { CHANGE_PASSWORD_ID } from '../components/change-password-form';
import { ConfirmDialog } from '../components/confirm-dialog';
import { OneTimePassword } from '../components/one-time-password';
import { RoleCell } from '../components/role-cell';
import { EmptyState, ErrorState, LoadingState, StaleWarning } from '../components/states';
import { formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useDeleteOperator, useOperators, useUpdateOperator } from '../hooks/use-operators';
import { generatePassword } from '../password';
import { paths } from '../router';
import { Link } from '../components/link';

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
          Only admins manage operators. To change your own password, open <Link to={paths.account()}>your account</Link>.
        </p>
      )}
    </main>
  );
}

/** The accounts table, where focus goes after a deletion. */
const OPERATORS_TABLE_ID = 'operators-table';

function OperatorsAdmin({ me }: { me: Me }) {
  const operators = useOperators();
  const remove = useDeleteOperator();
  const [deleting, setDeleting] = useState<string | null>(null);
  const opener = useRef<HTMLElement | null>(null);
  const deleted = useRef(false);
  const cancelDelete = (): void => {
    setDeleting(null);
    remove.reset();
  };
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
            <table className="table table-cards" id={OPERATORS_TABLE_ID} tabIndex={-1}>
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
                  <OperatorRow
                    key={op.name}
                    operator={op}
                    isMe={op.name === me.name}
                    onDelete={(button) => {
                      opener.current = button;
                      deleted.current = false;
                      setDeleting(op.name);
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
          <ConfirmDialog
            open={deleting !== null}
            title={`Delete the account ${deleting ?? ''}?`}
            confirmLabel={`Yes, delete ${deleting ?? ''}`}
            pending={remove.isPending}
            error={remove.error?.message ?? null}
            onConfirm={() => {
              if (deleting === null) return;
              remove.mutate(deleting, {
                onSuccess: () => {
                  deleted.current = true;
                  setDeleting(null);
                },
              });
            }}
            onCancel={cancelDelete}
            // The deleted row's button is gone: the table takes the focus.
            afterClose={() => (deleted.current ? document.getElementById(OPERATORS_TABLE_ID)?.focus() : opener.current?.focus())}
          >
            <p>{deleting} is logged out and their open terminals end. This cannot be undone.</p>
          </ConfirmDialog>
        </>
      )}
    </>
  );
}

function OperatorRow({ operator, isMe, onDelete }: { operator: OperatorAccount; isMe: boolean; onDelete: (opener: HTMLElement) => void }) {
  const { name } = operator;
  const resetPassword = useUpdateOperator();
  const [newPassword, setNewPassword] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);
  const resetRef = useRef<HTMLButtonElement>(null);

  const confirmReset = (): void => {
    const password = generatePassword();
    setNewPassword(null);
    resetPassword.mutate(
      { name, password },
      {
        onSuccess: () => {
          setAsking(false);
          setNewPassword(password);
        },
      },
    );
  };
  return (
    <tr>
      <th scope="row" className="mono">
        {name}
        {isMe && <span className="muted"> (you)</span>}
      </th>
      <RoleCell name={name} role={operator.role} isMe={isMe} />
      <td data-label="Created">
        <time dateTime={operator.createdAt}>{formatDateTime(operator.createdAt)}</time>
      </td>
      <td className="actions">
        {isMe ? (
          // A reset of your own account would log you out with a password nobody sees: your own
          // password is changed with the current one, on your account page (as for every role).
          <Link to={`${paths.account()}#${CHANGE_PASSWORD_ID}`} className="muted">
            Change your password on your account page
          </Link>
        ) : (
          <>
            <button ref={resetRef} type="button" className="button button-small" onClick={() => setAsking(true)}>
              Reset password<span className="visually-hidden"> for {name}</span>
            </button>{' '}
            <button type="button" className="button button-small" onClick={(e) => onDelete(e.currentTarget)}>
              Delete<span className="visually-hidden"> {name}</span>
            </button>
            <ConfirmDialog
              open={asking}
              title={`Reset the password of ${name}?`}
              confirmLabel={`Yes, reset ${name}`}
              pending={resetPassword.isPending}
              error={resetPassword.error?.message ?? null}
              onConfirm={confirmReset}
              onCancel={() => {
                setAsking(false);
                resetPassword.reset();
              }}
              // After a reset the new password's Copy button takes the focus.
              afterClose={() => newPassword === null && resetRef.current?.focus()}
            >
              <p>A new password is generated and shown to you once. {name} is logged out everywhere and needs the new password to log in.</p>
            </ConfirmDialog>
          </>
        )}
        {newPassword !== null && (
          <OneTimePassword
            label={`New password for ${name}:`}
            password={newPassword}
            focus
            onDone={() => {
              setNewPassword(null);
              resetRef.current?.focus();
            }}
          />
        )}
      </td>
    </tr>
  );
}
