import { useId, useRef, useState, type FormEvent } from 'react';
import type { Role } from '../../../shared/console-api';
import { NAME_MAX, NAME_RULE, PASSWORD_MAX, nameProblem, passwordProblem } from '../account-rules';
import { ROLES } from '../api';
import { useCreateOperator } from '../hooks/use-operators';
import { generatePassword } from '../password';
import { OneTimePassword } from './one-time-password';

/** What is wrong before sending, and the field it belongs to (marked invalid and focused). */
interface Problem {
  field: 'name' | 'password';
  message: string;
}

function localProblem(name: string, password: string): Problem | null {
  const n = nameProblem(name);
  if (n !== null) return { field: 'name', message: n };
  const p = passwordProblem(password, 'The password');
  return p === null ? null : { field: 'password', message: p };
}

/**
 * A new console account. The inputs hold no more than the server takes, and the form checks the
 * rest itself (noValidate) so that what is wrong is said in words beside the form before anything
 * is sent, not as the API's field message.
 */
export function AddOperatorForm() {
  const id = useId();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');
  const [generated, setGenerated] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const create = useCreateOperator();

  const edited = (): void => {
    setProblem(null);
    if (create.isError) create.reset();
  };
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const local = localProblem(name.trim(), password);
    setProblem(local);
    if (local !== null) {
      (local.field === 'name' ? nameRef : passwordRef).current?.focus();
      return;
    }
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
  const invalid = (field: Problem['field']) => problem?.field === field;

  return (
    <form className="filters" aria-label="Add operator" onSubmit={submit} noValidate>
      <h2 className="form-title">Add an operator</h2>
      <h2 className="visually-hidden">Add operator</h2>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <span id={`${id}-name-hint`} className="field-hint">
          {NAME_RULE}
        </span>
        <input
          ref={nameRef}
          id={`${id}-name`}
          type="text"
          value={name}
          required
          maxLength={NAME_MAX}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={invalid('name') || undefined}
          aria-describedby={invalid('name') ? `${id}-name-hint ${id}-error` : `${id}-name-hint`}
          onChange={(e) => {
            setName(e.target.value);
            edited();
          }}
        />
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
          ref={passwordRef}
          id={`${id}-password`}
          type="password"
          value={password}
          required
          maxLength={PASSWORD_MAX}
          autoComplete="new-password"
          aria-invalid={invalid('password') || undefined}
          aria-describedby={invalid('password') ? `${id}-error` : undefined}
          onChange={(e) => {
            setPassword(e.target.value);
            setGenerated(null);
            edited();
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
          edited();
        }}
      >
        Generate
      </button>
      <button type="submit" className="button button-primary" disabled={create.isPending}>
        Add
      </button>
      {generated !== null && <OneTimePassword label="Generated password:" password={generated} onDone={() => setGenerated(null)} />}
      {problem !== null ? (
        <p id={`${id}-error`} className="form-error" role="alert">
          {problem.message}
        </p>
      ) : (
        create.isError && (
          <p className="form-error" role="alert">
            Could not add the operator: {create.error.message}
          </p>
        )
      )}
    </form>
  );
}
