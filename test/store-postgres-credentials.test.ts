/**
 * A cluster store URL that PostgreSQL refuses — no password where the server asks one (Debian's
 * default pg_hba.conf asks it of every TCP client), a wrong one, a role or database that is not
 * there — gives a typed error (503004) that says what to do, not `pg`'s "SASL: SCRAM-SERVER-FIRST-
 * MESSAGE: client password must be a string". Real PostgreSQL with a scram-sha-256 rule for one role.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsError } from '../shared/errors.js';
import { openStore } from '../server/store/open.js';
import { runCli, stopAll, tempDir } from './harness.js';
import { startPostgres } from './fixtures/postgres.js';

let port = 0;
let dbUrl = '';

beforeAll(async () => {
  const server = await startPostgres();
  dbUrl = await server.createDatabase('creds');
  port = server.port;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query("CREATE ROLE ds_pw LOGIN PASSWORD 'right-one'");
    await admin.query('GRANT ALL ON DATABASE creds TO ds_pw');
    await admin.query('ALTER DATABASE creds OWNER TO ds_pw');
    // As Debian's default asks of TCP clients: a password (scram-sha-256) for this role.
    const hba = (await admin.query<{ hba_file: string }>('SHOW hba_file')).rows[0]?.hba_file ?? '';
    writeFileSync(hba, `host all ds_pw 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
}, 60_000);

afterAll(stopAll);

/** The error opening the store at `url` fails with. */
async function refusal(url: string): Promise<DsError> {
  const err = await openStore({ dataDir: tempDir(), url, log: () => undefined }).then(
    async (store) => {
      await store.close();
      return new Error('opened');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DsError);
  return err as DsError;
}

describe('cluster store credentials refused', () => {
  it('no password where PostgreSQL asks one: 503004 saying where to put it', async () => {
    const err = await refusal(`postgres://ds_pw@127.0.0.1:${port}/creds`);
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/asks for a password and none was given: put it in the URL \(postgres:\/\/USER:PASSWORD@HOST:PORT\/DB\), in PGPASSWORD, or in ~\/\.pgpass/);
  });

  it('a wrong password: 503004 with the server\'s words, the password not repeated', async () => {
    const err = await refusal(`postgres://ds_pw:wrong-one@127.0.0.1:${port}/creds`);
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/password authentication failed for user "ds_pw": check the password/);
    expect(err.message).not.toMatch(/wrong-one/);
  });

  it('a database that is not there: 503004 saying to create it', async () => {
    const err = await refusal(dbUrl.replace(/\/creds$/, '/nowhere'));
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/database "nowhere" does not exist: create it \(createdb -O USER DB\)/);
  });

  it('a role that is not there: 503004 saying to create it', async () => {
    const err = await refusal(`postgres://nobody@127.0.0.1:${port}/creds`);
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/role "nobody" does not exist: create the role/);
  });

  it('the password from PGPASSWORD, as the message says, opens it', async () => {
    const before = process.env.PGPASSWORD;
    process.env.PGPASSWORD = 'right-one';
    try {
      const store = await openStore({ dataDir: tempDir(), url: `postgres://ds_pw@127.0.0.1:${port}/creds`, log: () => undefined });
      expect(store.engine).toBe('postgres');
      await store.close();
    } finally {
      if (before === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = before;
    }
  });

  it('devicestreams hub without the password exits 1 with that message on one line', () => {
    const r = runCli(['hub', '--store', `postgres://ds_pw@127.0.0.1:${port}/creds`, '--data-dir', tempDir(), '--port', '0'], { PGPASSWORD: '' });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^devicestreams hub: the store \(postgres:\/\/ds_pw@127\.0\.0\.1:\d+\/creds\) refused us: PostgreSQL asks for a password/);
  });
});
