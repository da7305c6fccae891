/**
 * The cluster store's connections when the server ends them: one held by a node between two
 * statements (an advisory lock kept while a task runs) and ended by the server, as a PostgreSQL
 * restart or pg_terminate_backend does. Real PostgreSQL; the store in this process, so a connection
 * error nobody listens to would surface as an uncaught exception and fail the run.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../server/store/open.js';
import type { Store } from '../server/store/store.js';
import { stopAll, tempDir } from './harness.js';
import { startPostgres } from './fixtures/postgres.js';

let store: Store;
let url: string;
const logged: string[] = [];

beforeAll(async () => {
  const server = await startPostgres();
  url = await server.createDatabase('connections');
  store = await openStore({ dataDir: tempDir(), url, log: (line) => logged.push(line) });
}, 60_000);

afterAll(async () => {
  await store?.close();
  await stopAll();
});

/** Ends, from another connection, the backend of ours whose last statement took an advisory lock. */
async function terminateLockHolder(): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const r = await admin.query<{ n: string }>(
      "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'devicestreams' AND query LIKE '%pg_try_advisory_lock%'",
    );
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await admin.end();
  }
}

it('survives the server ending a connection it holds for a lock while its task runs: the task finishes, the connection is dropped, the next statements work', async () => {
  let terminated = -1;
  const ran = await store.exclusively('sweep', async () => {
    terminated = await terminateLockHolder();
    // Give the server's "terminating connection" message time to arrive on the held connection.
    await new Promise((r) => setTimeout(r, 300));
  });
  expect(terminated).toBe(1);
  expect(ran).toBe(true);
  expect(logged.some((l) => /connection in use failed/.test(l))).toBe(true);
  // The broken connection was not handed out again: statements work.
  for (let i = 0; i < 12; i++) await store.ping();
  // Its lock ended with its session (a lock held by a live session would refuse this one).
  expect(await store.exclusively('sweep', () => Promise.resolve())).toBe(true);
});
