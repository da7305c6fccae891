import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { useLocalTls } from '../../test/fixtures/local-tls.js';
import { resumes, ticket } from '../../test/fixtures/tls-sessions.js';
import { dataDirSecrets } from '../secrets.js';
import type { SecretRepository } from '../store/store.js';
import { SESSION_ID_CONTEXT, TICKET_KEY_PERIOD_MS, TicketKeys, ticketKeyName } from './ticket-keys.js';

const tls = useLocalTls('ds-ticket-keys-');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: tls.cert, key: tls.key, sessionIdContext: SESSION_ID_CONTEXT }, (s) => s.resume());
  tls.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ds-ticket-secrets-'));
  dirs.push(d);
  return d;
}

const HOUR = 490_000 * TICKET_KEY_PERIOD_MS;

describe('TicketKeys', () => {
  it('switches to a new key at the hour: a ticket of the hour before no longer resumes, one of the new hour does, and the old key is deleted', async () => {
    const { server, port } = await listen();
    const dir = dataDir();
    let now = HOUR + 10 * 60_000;
    const keys = new TicketKeys({ server, secrets: dataDirSecrets(dir), log: () => undefined, now: () => now });
    await keys.start();
    const before = await ticket(port, tls.ca);
    expect(await resumes(port, tls.ca, before)).toBe(true);
    // Within the hour nothing changes.
    now = HOUR + TICKET_KEY_PERIOD_MS - 1000;
    await keys.rotate();
    expect(await resumes(port, tls.ca, before)).toBe(true);
    now = HOUR + TICKET_KEY_PERIOD_MS + 1000;
    await keys.rotate();
    expect(keys.window).toBe(HOUR / TICKET_KEY_PERIOD_MS + 1);
    expect(await resumes(port, tls.ca, before)).toBe(false);
    expect(await resumes(port, tls.ca, await ticket(port, tls.ca))).toBe(true);
    expect(readdirSync(join(dir, 'secrets')).filter((n) => n.startsWith('tls-ticket.'))).toEqual([ticketKeyName(HOUR / TICKET_KEY_PERIOD_MS + 1)]);
    keys.stop();
  });

  it('gives two servers on one store the same key, so a ticket of one resumes on the other', async () => {
    const a = await listen();
    const b = await listen();
    const secrets = dataDirSecrets(dataDir());
    const now = (): number => HOUR + 5 * 60_000;
    const ka = new TicketKeys({ server: a.server, secrets, log: () => undefined, now });
    const kb = new TicketKeys({ server: b.server, secrets, log: () => undefined, now });
    await ka.start();
    await kb.start();
    expect(await resumes(b.port, tls.ca, await ticket(a.port, tls.ca))).toBe(true);
    ka.stop();
    kb.stop();
  });

  it('leaves the next hour\'s key alone when its clock is a little behind the node that made it', async () => {
    const a = await listen();
    const b = await listen();
    const dir = dataDir();
    const secrets = dataDirSecrets(dir);
    const ahead = new TicketKeys({ server: a.server, secrets, log: () => undefined, now: () => HOUR + TICKET_KEY_PERIOD_MS + 500 });
    await ahead.start();
    // Started a second later by the clock, but its clock is two seconds behind: still the hour before.
    const behind = new TicketKeys({ server: b.server, secrets, log: () => undefined, now: () => HOUR + TICKET_KEY_PERIOD_MS - 1500 });
    await behind.start();
    const w = HOUR / TICKET_KEY_PERIOD_MS;
    expect(readdirSync(join(dir, 'secrets')).filter((n) => n.startsWith('tls-ticket.')).sort()).toEqual([ticketKeyName(w), ticketKeyName(w + 1)].sort());
    // The new hour's key survived: a node that starts now in the new hour takes the same one.
    const c = await listen();
    const late = new TicketKeys({ server: c.server, secrets, log: () => undefined, now: () => HOUR + TICKET_KEY_PERIOD_MS + 3000 });
    await late.start();
    expect(await resumes(c.port, tls.ca, await ticket(a.port, tls.ca))).toBe(true);
    for (const k of [ahead, behind, late]) k.stop();
  });

  it('keeps the key in use while the store fails, says so once, and says when the store gives the new one', async () => {
    const { server, port } = await listen();
    const real = dataDirSecrets(dataDir());
    let down = false;
    const secrets: SecretRepository = {
      getOrCreate: (name, bytes) => (down ? Promise.reject(new Error('store unreachable')) : real.getOrCreate(name, bytes)),
      removeNumberedBefore: (prefix, before) => real.removeNumberedBefore(prefix, before),
    };
    const lines: string[] = [];
    let now = HOUR;
    const keys = new TicketKeys({ server, secrets, log: (l) => lines.push(l), now: () => now });
    await keys.start();
    const t = await ticket(port, tls.ca);
    down = true;
    now = HOUR + TICKET_KEY_PERIOD_MS;
    await keys.rotate();
    await keys.rotate();
    expect(keys.window).toBe(HOUR / TICKET_KEY_PERIOD_MS);
    expect(await resumes(port, tls.ca, t)).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/^TLS ticket key: could not take this hour's from the store \(retrying every 30 s\): Error: store unreachable$/)]);
    down = false;
    await keys.rotate();
    expect(keys.window).toBe(HOUR / TICKET_KEY_PERIOD_MS + 1);
    expect(lines[1]).toBe('TLS ticket key: taken from the store again');
    keys.stop();
  });
});
