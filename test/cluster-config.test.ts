/**
 * A node started against a cluster it cannot use says what to fix, in one line, and exits: here a
 * NATS server without JetStream (as Debian's packaged nats-server service runs), against a real
 * PostgreSQL store.
 */
import { afterAll, expect, it } from 'vitest';
import { startNats } from './fixtures/nats.js';
import { startPostgres } from './fixtures/postgres.js';
import { spawnCli, stopAll, tempDir } from './harness.js';

afterAll(stopAll);

it('a node whose NATS server runs without JetStream exits 1 saying to start it with -js', async () => {
  const pg = await startPostgres();
  const store = await pg.createDatabase('nojs');
  const nats = await startNats({ jetStream: false });
  const node = spawnCli(['hub', '--data-dir', tempDir(), '--store', store, '--bus', nats.url, '--node-id', 'nojs-1', '--port', '0']);
  const code = await node.exited;
  expect(code).toBe(1);
  const lines = node.output().split('\n').filter((l) => l.startsWith('devicestreams hub:'));
  expect(lines).toEqual(["devicestreams hub: cannot renew this node's lease: the NATS server runs without JetStream (or not for this account), where the nodes keep their leases: start it with -js -sd DIR (or a jetstream block in its configuration)"]);
}, 60_000);
