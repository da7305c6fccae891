import type { Me } from '../../../shared/console-api';
import { RecordKeystrokes } from '../components/record-keystrokes';
import { useDocumentTitle } from '../hooks/use-document-title';

/** Console settings. Admins only (the server refuses anyone else's changes too). */
export function SettingsPage({ me }: { me: Me }) {
  useDocumentTitle('Settings');
  return (
    <main className="page">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      {me.role === 'admin' ? (
        <RecordKeystrokes />
      ) : (
        <p className="form-error" role="alert">
          Only admins change settings.
        </p>
      )}
    </main>
  );
}
