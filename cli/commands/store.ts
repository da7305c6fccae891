/** `devicestreams store …` — operations on a hub's store as a whole. */
import { resolve } from 'node:path';
import { MigrateError, migrateStore, type MigrateSummary } from '../../server/store/migrate.js';
import { redactUrl } from '../../server/store/postgres/pool.js';
import { CliError, describeError, parse } from '../args.js';

const HELP = `
Usage: devicestreams store <command> [options]

Operations on a hub's store as a whole.

Commands:
  migrate              move a single hub's store (data directory) into an empty cluster store
                       (PostgreSQL)

Run "devicestreams store migrate --help" for its options.

Example:
  devicestreams store migrate --from /var/lib/devicestreams --to postgres://ds:PASSWORD@db.example.com:5432/devicestreams
`;

const MIGRATE_HELP = `
Usage: devicestreams store migrate --from DATA_DIR --to postgres://USER:PASSWORD@HOST:PORT/DB

Moves a single hub's store into a cluster store, for a hub that grows into a cluster: devices with
their keys, status and times; the shared access policies with their keys (connection strings keep
working); operators with their password hashes, roles and ids; console settings; the whole stream
log; recordings with their content; and the stream-token secret (issued tokens stay valid). Login
sessions are not moved: operators log in again.

The target must be an empty database (its schema is created here): a database that already holds
devices, operators, stream records or recordings is refused, so nothing is mixed. Everything is
copied in one transaction: on any failure the target is left as it was. The hub's store is opened
read-only. Stop the hub first: what it writes after the copy starts is not moved.

Options:
  --from DIR           the hub's data directory (holds hub.db, secrets/, recordings/)
  --to URL             the empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST:PORT/DB
  -h, --help           this help

Examples:
  systemctl stop devicestreams
  createdb -h db.example.com -U ds devicestreams
  devicestreams store migrate --from /var/lib/devicestreams --to postgres://ds:PASSWORD@db.example.com:5432/devicestreams
`;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The summary, for a person: what moved, what did not and what to do next. */
function report(s: MigrateSummary, url: string): string {
  const lines = [
    `moved ${plural(s.devices, 'device')}, ${plural(s.policies, 'policy', 'policies')}, ${plural(s.operators, 'operator')}, ${plural(s.streams, 'stream record')}, ` +
      `${plural(s.recordings, 'recording')} (${mib(s.recordingBytes)}), ${plural(s.settings, 'console setting')}` +
      `${s.secret ? ' and the stream-token secret' : ''} in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `not moved: ${plural(s.sessionsLeft, 'login session')} (operators log in again on the cluster)`,
  ];
  if (s.enrollmentTokensLeft > 0) {
    lines.push(`not moved: ${plural(s.enrollmentTokensLeft, 'unused enrollment token')} (their install commands name this hub; create new ones with devicestreams device enroll-token)`);
  }
  if (!s.secret) lines.push('the hub had no stream-token secret yet: the cluster makes one on its first start');
  if (s.recordingsWithoutContent > 0) lines.push(`${plural(s.recordingsWithoutContent, 'recording')} had no file and moved without content`);
  if (s.liveStreams > 0) {
    lines.push(`${plural(s.liveStreams, 'stream record')} had not ended (the hub did not stop cleanly); the cluster closes them as nodeLost`);
  }
  lines.push(
    `next: run the hub nodes with --store ${redactUrl(url)}; devices and clients reach the HostName in their connection strings, so point that name at the cluster`,
  );
  return `${lines.join('\n')}\n`;
}

async function migrate(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { from: { type: 'string' }, to: { type: 'string' } }, MIGRATE_HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}" (see --help)`, 2);
  if (values.from === undefined || values.from === '') throw new CliError('--from DATA_DIR is required (the hub\'s data directory)', 2);
  if (values.to === undefined || values.to === '') throw new CliError('--to postgres://USER:PASSWORD@HOST:PORT/DB is required (an empty database)', 2);
  if (!/^postgres(ql)?:\/\//.test(values.to)) throw new CliError('--to must be a postgres:// URL', 2);
  try {
    const summary = await migrateStore({
      dataDir: resolve(values.from),
      url: values.to,
      log: (line) => process.stderr.write(`store migrate: ${line}\n`),
    });
    process.stdout.write(report(summary, values.to));
  } catch (err) {
    if (err instanceof MigrateError || err instanceof CliError) throw new CliError(err.message);
    throw new CliError(`failed, the target is left as it was: ${describeError(err)}`);
  }
}

export async function run(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === 'migrate') return migrate(rest);
  if (action === '--help' || action === '-h' || action === 'help') {
    process.stdout.write(HELP.trimStart());
    return;
  }
  if (action === undefined) throw new CliError('name a command: migrate (see devicestreams store --help)', 2);
  throw new CliError(`unknown store command "${action}" (use migrate; see --help)`, 2);
}
