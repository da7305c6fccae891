import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ensureLocalTls } from '../server/tls.js';
import { resumingTlsConnect, secureContextFor } from '../shared/tls-client.js';
import { useLocalTls } from './fixtures/local-tls.js';

const tls = useLocalTls('ds-tls-client-');

/** A TLS server on a free loopback port that answers every connection with a line and ends it. */
async function lineServer(line: string): Promise<number> {
  const server = createServer({ cert: tls.cert, key: tls.key }, (s) => {
    s.on('error', () => undefined);
    s.end(`${line}\n`);
  });
  tls.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Connects through `resumingTlsConnect`, reads to the end; whether the session was resumed, and what came. */
function visit(port: number, caPem = tls.ca): Promise<{ reused: boolean; text: string }> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = resumingTlsConnect({ host: 'localhost', port, secureContext: secureContextFor(caPem) });
    let text = '';
    let reused = false;
    s.once('secureConnect', () => {
      reused = s.isSessionReused();
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.once('error', reject);
    // TLS 1.3 hands out its session tickets after the handshake; the end of the answer is after them.
    s.once('close', () => resolve({ reused, text }));
  });
}

describe('resumingTlsConnect', () => {
  it('resumes the session of the last connection to the same server, not one of another server, and carries the bytes either way', async () => {
    const a = await lineServer('from a');
    const b = await lineServer('from b');
    expect(await visit(a)).toEqual({ reused: false, text: 'from a\n' });
    expect(await visit(a)).toEqual({ reused: true, text: 'from a\n' });
    expect(await visit(b)).toEqual({ reused: false, text: 'from b\n' });
    expect(await visit(a)).toEqual({ reused: true, text: 'from a\n' });
    expect(await visit(b)).toEqual({ reused: true, text: 'from b\n' });
  });

  it('still refuses a server its CA did not sign after a session with it was cached under another CA', async () => {
    const port = await lineServer('untrusted');
    const other = await ensureLocalTls(mkdtempSync(join(tls.dir, 'other-')), []);
    expect(await visit(port)).toEqual({ reused: false, text: 'untrusted\n' });
    await expect(visit(port, readFileSync(other.caFile as string, 'utf8'))).rejects.toThrow(/self-signed|unable to verify|certificate/i);
  });
});
