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
let adminUrl = '';

/** Runs one statement as the server's superuser; its rows. */
async function asAdmin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string): Promise<R[]> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return (await admin.query<R>(sql)).rows;
  } finally {
    await admin.end();
  }
}

/** Runs `fn` with PGPASSWORD set to `password` in this process, and puts back what was there. */
async function withPgPassword<T>(password: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.PGPASSWORD;
  process.env.PGPASSWORD = password;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = before;
  }
}

beforeAll(async () => {
  const server = await startPostgres();
  dbUrl = await server.createDatabase('creds');
  port = server.port;
  adminUrl = server.url;
  await asAdmin("CREATE ROLE ds_pw LOGIN PASSWORD 'right-one'");
  await asAdmin('GRANT ALL ON DATABASE creds TO ds_pw');
  await asAdmin('ALTER DATABASE creds OWNER TO ds_pw');
  await asAdmin('CREATE ROLE ds_nologin NOLOGIN');
  await asAdmin('CREATE ROLE ds_rejected LOGIN');
  // As Debian's default asks of TCP clients: a password (scram-sha-256) for this role; and a
  // rule that refuses another role from this host outright.
  const hba = (await asAdmin<{ hba_file: string }>('SHOW hba_file'))[0]?.hba_file ?? '';
  writeFileSync(hba, `host all ds_pw 127.0.0.1/32 scram-sha-256\nhost all ds_rejected 127.0.0.1/32 reject\n${readFileSync(hba, 'utf8')}`);
  await asAdmin('SELECT pg_reload_conf()');
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
    expect(err.message).toMatch(/password authentication failed for user "ds_pw": check the user and password/);
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

  it('a role that may not log in: 503004 with the server\'s words, not told to create the role', async () => {
    const err = await refusal(`postgres://ds_nologin@127.0.0.1:${port}/creds`);
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/role "ds_nologin" is not permitted to log in: check the user in the URL and its LOGIN right/);
  });

  it('pg_hba.conf refusing this host: 503004 pointing at pg_hba.conf', async () => {
    const err = await refusal(`postgres://ds_rejected@127.0.0.1:${port}/creds`);
    expect(err.code).toBe(503004);
    expect(err.message).toMatch(/pg_hba\.conf rejects connection .*: add a line for this node's address, user and database to pg_hba\.conf/);
  });

  it('the password from PGPASSWORD, as the message says, opens it', async () => {
    await withPgPassword('right-one', async () => {
      const store = await openStore({ dataDir: tempDir(), url: `postgres://ds_pw@127.0.0.1:${port}/creds`, log: () => undefined });
      expect(store.engine).toBe('postgres');
      await store.close();
    });
  });

  it('a password changed under a running node: its queries get 503004 and its log says so once, not per query', async () => {
    const logged: string[] = [];
    await withPgPassword('right-one', async () => {
      const store = await openStore({ dataDir: tempDir(), url: `postgres://ds_pw@127.0.0.1:${port}/creds`, log: (line) => logged.push(line) });
      try {
        expect(await store.devices.get('nobody')).toBeUndefined();
        await asAdmin("ALTER ROLE ds_pw PASSWORD 'rotated'");
        // Its open connections are ended, as a restart of the database would: the next ones log in anew.
        await asAdmin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'ds_pw'");
        for (let i = 0; i < 3; i++) {
          const err = await store.devices.get('nobody').then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(DsError);
          expect((err as DsError).code).toBe(503004);
        }
        const refusals = logged.filter((l) => /refused us: password authentication failed for user "ds_pw"/.test(l));
        expect(refusals).toHaveLength(1);
      } finally {
        await asAdmin("ALTER ROLE ds_pw PASSWORD 'right-one'");
        await store.close();
      }
    });
  });

  it('devicestreams hub without the password exits 1 with that message on one line', () => {
    const r = runCli(['hub', '--store', `postgres://ds_pw@127.0.0.1:${port}/creds`, '--data-dir', tempDir(), '--port', '0'], { PGPASSWORD: '' });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^devicestreams hub: the store \(postgres:\/\/ds_pw@127\.0\.0\.1:\d+\/creds\) refused us: PostgreSQL asks for a password/);
  });
});
