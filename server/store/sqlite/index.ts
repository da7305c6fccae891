/** The embedded store: SQLite in the data directory, recordings and shared secrets as files beside it. */
import { dataDirSecrets } from '../../secrets.js';
import type { Store } from '../store.js';
import { SqliteOperators, SqliteSessions } from './accounts.js';
import { openDatabase } from './database.js';
import { SqliteDevices } from './devices.js';
import { SqliteEnrollment } from './enrollment.js';
import { SqliteLogins } from './logins.js';
import { SqlitePolicies } from './policies.js';
import { SqliteRates } from './rates.js';
import { RecordingFiles } from './recording-files.js';
import { SqliteRecordings } from './recordings.js';
import { SqliteStreams } from './streams.js';
import { SqliteTerminalSessions } from './terminal-sessions.js';

/** Opens (creating and migrating when needed) the store in `dataDir`. */
export function openSqliteStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    engine: 'sqlite',
    location: dataDir,
    devices: new SqliteDevices(db),
    policies: new SqlitePolicies(db),
    streams: new SqliteStreams(db),
    operators: new SqliteOperators(db),
    sessions: new SqliteSessions(db),
    recordings: new SqliteRecordings(db),
    recordingData: new RecordingFiles(dataDir),
    secrets: dataDirSecrets(dataDir),
    rates: new SqliteRates(db),
    terminalSessions: new SqliteTerminalSessions(db),
    enrollment: new SqliteEnrollment(db),
    logins: new SqliteLogins(db),
    ping: async () => {
      db.prepare('SELECT 1').get();
    },
    // One process owns an embedded store: there is nobody to share the work with.
    exclusively: async (_name, task) => {
      await task();
      return true;
    },
    close: async () => {
      db.close();
    },
  };
}
