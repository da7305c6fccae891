import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalTls, type TlsMaterial } from '../tls.js';
import { dropAlpnCopy } from './alpn.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CONNECTIONS = 300;
const dir = mkdtempSync(join(tmpdir(), 'ds-alpn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Bytes of ArrayBuffer memory still held per connection after `CONNECTIONS` TLS connections to a
 * server (with or without the hook) stay open, other traffic cutting small Buffers from the pool
 * between them as a busy node's store and bus do.
 */
async function heldPerConnection(tls: TlsMaterial, hook: boolean): Promise<number> {
  const server: Server = createServer({ cert: tls.cert, key: tls.key });
  if (hook) server.on('secureConnection', dropAlpnCopy);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const clients: TLSSocket[] = [];
  const accepted: unknown[] = [];
  server.on('secureConnection', (s) => accepted.push(s));
  gc();
  const before = process.memoryUsage().arrayBuffers;
  let churn = 0;
  for (let i = 0; i < CONNECTIONS; i++) {
    const c = connect({ port, host: '127.0.0.1', ca: tls.cert, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => c.once('secureConnect', resolve).once('error', reject));
    clients.push(c);
    // Other traffic: short-lived small Buffers from the shared pool, dropped at once.
    for (let k = 0; k < 4; k++) churn += Buffer.from(`message ${i}-${k} `.repeat(100)).length;
  }
  while (accepted.length < CONNECTIONS) await new Promise((r) => setTimeout(r, 10));
  gc();
  const held = (process.memoryUsage().arrayBuffers - before) / CONNECTIONS;
  // Everything closed and collected before the next measurement starts from its own baseline.
  const closed = accepted.map((s) => new Promise((resolve) => (s as TLSSocket).once('close', resolve)));
  for (const c of clients) c.destroy();
  await Promise.all(closed);
  await new Promise((resolve) => server.close(resolve));
  gc();
  expect(churn).toBeGreaterThan(0);
  return held;
}

describe('dropAlpnCopy', () => {
  it('lets a long-lived TLS connection stop pinning a Buffer pool slab: without it each of 300 open connections holds most of a slab (> 5 KiB), with it under 2.5 KiB', async () => {
    const tls = await ensureLocalTls(dir, ['localhost']);
    await heldPerConnection(tls, true); // warm-up: what is made once (code, caches) is not counted
    const withHook = await heldPerConnection(tls, true);
    const without = await heldPerConnection(tls, false);
    // Without the hook every connection keeps the 8 KiB slab its ALPN copy was cut from (the other
    // traffic used the rest); with it, what is left is the noise of the client sockets beside them.
    expect(without).toBeGreaterThan(5 * 1024);
    expect(withHook).toBeLessThan(2.5 * 1024);
  }, 60_000);
});
