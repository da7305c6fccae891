import type { Me } from '../../../shared/console-api';
import { ChangePasswordForm } from '../components/change-password-form';
import { useDocumentTitle } from '../hooks/use-document-title';

/** Words for what each role may do, as the server enforces it. */
const ROLE_WORDS: Record<Me['role'], string> = {
  admin: 'You manage operators and settings, and you can connect to devices and watch live sessions.',
  operator: 'You can connect to devices, move files and open their web apps.',
  viewer: 'You can see devices and the stream history; you cannot connect to devices.',
};

/**
 * The signed-in operator's own account, for every role: who they are and their password. Admins
 * manage other accounts on Operators; everyone changes their own password here, with the current one.
 */
export function AccountPage({ me }: { me: Me }) {
  useDocumentTitle('Your account');
  return (
    <main className="page">
      <div className="page-head">
        <h1>Your account</h1>
      </div>
      <p>
        Signed in as <strong>{me.name}</strong>, role <strong>{me.role}</strong>. {ROLE_WORDS[me.role]}
      </p>
      <ChangePasswordForm />
    </main>
  );
}
