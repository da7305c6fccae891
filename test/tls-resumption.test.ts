/**
 * TLS sessions resume on whichever node of a cluster a client reaches and across a hub's restart on
 * its data directory (shared, stored ticket keys: server/http/ticket-keys.ts), against real hub
 * processes, PostgreSQL, NATS and haproxy.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCluster } from './fixtures/cluster.js';
import { clearOfKeySwitch, resumes, ticket } from './fixtures/tls-sessions.js';
import { hubHandle, spawnCli, stopAll, tempDir } from './harness.js';

afterAll(stopAll);

describe('TLS session resumption', () => {
  it('a session from a single hub resumes after the hub restarts on the same data directory', async () => {
    await clearOfKeySwitch(40_000);
    const dataDir = tempDir();
    const first = await hubHandle(spawnCli(['hub', '--data-dir', dataDir, '--port', '0']), dataDir);
    const session = await ticket(first.port, first.ca);
    expect(await resumes(first.port, first.ca, session)).toBe(true);
    first.proc.kill('SIGTERM');
    await first.proc.exited;
    const second = await hubHandle(spawnCli(['hub', '--data-dir', dataDir, '--port', '0']), dataDir);
    expect(await resumes(second.port, second.ca, session)).toBe(true);
    // A hub of another data directory cannot open that ticket: a full handshake, as it must be.
    const otherDir = tempDir();
    const other = await hubHandle(spawnCli(['hub', '--data-dir', otherDir, '--port', '0']), otherDir);
    expect(await resumes(other.port, other.ca, session)).toBe(false);
  }, 90_000);

  it('a session from one cluster node resumes on the other node, and through the balancer on either', async () => {
    const c = await startTestCluster({ nodes: 2 });
    const [n1, n2] = c.nodes;
    if (n1 === undefined || n2 === undefined) throw new Error('two nodes expected');
    const ca = c.handle.ca;
    await clearOfKeySwitch(20_000);
    const fromFirst = await ticket(n1.port, ca);
    expect(await resumes(n2.port, ca, fromFirst)).toBe(true);
    const fromSecond = await ticket(n2.port, ca);
    expect(await resumes(n1.port, ca, fromSecond)).toBe(true);
    // The balancer spreads connections over both nodes: each of these resumes wherever it lands.
    for (let i = 0; i < 4; i++) expect(await resumes(c.lb.port, ca, fromFirst)).toBe(true);
  }, 120_000);
});
