/**
 * The PostgreSQL connection pool of a node: bounded, reconnecting by itself (each query takes a
 * live connection; broken ones are dropped), BIGINT columns read as numbers (epoch milliseconds
 * and byte counts stay far below 2^53), and every failure to reach the database turned into the
 * typed 503 (`StoreUnavailable`) that says to retry, credentials the server refuses into one
 * (`StoreRefused`) that says what to fix, while a failed statement keeps its own error.
 */
import pg from 'pg';
import { DsError, ErrorCode } from '../../../shared/errors.js';

const INT8_OID = 20;

/** A pg client config that reads BIGINT as number. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (v: string): number => Number(v);
    return pg.types.getTypeParser(oid, format) as unknown;
  }) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes and socket errors that mean "the database is not there", not "the statement is wrong". */
function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  if (code.startsWith('08')) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

/**
 * PostgreSQL refused the store URL's credentials, or asked for a password the URL does not carry
 * (Debian's default pg_hba.conf asks one of every TCP client): what to do about it, or undefined.
 * `pg` says the second only as "SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string".
 */
function credentialsProblem(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  if (/client password must be a (non-empty )?string/i.test(message)) {
    return 'PostgreSQL asks for a password and none was given: put it in the URL (postgres://USER:PASSWORD@HOST:PORT/DB), in PGPASSWORD, or in ~/.pgpass';
  }
  // With password authentication a role that does not exist is refused as a wrong password.
  if (e.code === '28P01') return `${message}: check the user and password in the URL (postgres://USER:PASSWORD@HOST:PORT/DB), PGPASSWORD or ~/.pgpass`;
  // 28000 covers a missing role, one that may not log in, and pg_hba.conf refusing this host.
  if (e.code === '28000') {
    if (/role ".*" does not exist/.test(message)) return `${message}: create the role (createuser) or give another user in the URL`;
    if (/pg_hba\.conf/.test(message)) return `${message}: add a line for this node's address, user and database to pg_hba.conf on the database server (then SELECT pg_reload_conf())`;
    return `${message}: check the user in the URL and its LOGIN right`;
  }
  if (e.code === '3D000') return `${message}: create it (createdb -O USER DB) or name another in the URL`;
  return undefined;
}

/** `postgres://user:secret@host/db` without the secret, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** How often a node running on a store that refuses its credentials says so in its log. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export class Database {
  readonly pool: pg.Pool;
  readonly #url: string;
  readonly #log: (line: string) => void;
  /** Opened and serving: from then on a refusal (a password rotated, a database dropped) is logged. */
  #serving = false;
  #refusalLoggedAt = -Infinity;

  constructor(url: string, log: (line: string) => void, max = 10) {
    this.#url = redactUrl(url);
    this.#log = log;
    this.pool = new pg.Pool({ connectionString: url, max, types, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, application_name: 'devicestreams' });
    // An idle connection the server dropped (restart) must not take the process down.
    this.pool.on('error', (err) => log(`store: a database connection failed (${err.message}); the next query opens a new one`));
  }

  /** The typed 503 for an unreachable database; other errors pass through. */
  convert(err: unknown): unknown {
    if (err instanceof DsError) return err;
    const refused = credentialsProblem(err);
    if (refused !== undefined) {
      const e = new DsError(ErrorCode.StoreRefused, `the store (${this.#url}) refused us: ${refused}`, { cause: err });
      // A fault of the node's configuration that clients only see as 503s: the log says it too,
      // now and then. (At start the command prints it and exits.)
      if (this.#serving && Date.now() - this.#refusalLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
        this.#refusalLoggedAt = Date.now();
        this.#log(`store: ${e.message}`);
      }
      return e;
    }
    if (unreachable(err)) {
      return new DsError(ErrorCode.StoreUnavailable, `the store (${this.#url}) cannot be reached: ${err instanceof Error ? err.message : String(err)}; retry shortly`, { retryAfterSeconds: 2, cause: err });
    }
    return err;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw this.convert(err);
    }
  }

  async rows<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(text, values)).rows;
  }

  /** Runs `fn` on one connection inside a transaction; rolls back if it throws. */
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Runs `fn` holding one connection (transactions, session-level advisory locks). While it is
   * held the pool does not listen to it: a connection the server ends between two statements (a
   * restart, pg_terminate_backend) emits 'error' with nobody listening, which would end the
   * process. So it is listened to here, and a broken one goes back with its error, which makes
   * the pool drop it instead of handing it out again.
   */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.convert(err);
    }
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken ??= err;
      this.#log(`store: a database connection in use failed (${err.message}); it is dropped`);
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      broken ??= unreachable(err) ? (err as Error) : undefined;
      throw this.convert(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** The store is open: refusals from now on are logged (see convert). */
  serving(): void {
    this.#serving = true;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
