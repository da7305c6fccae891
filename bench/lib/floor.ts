/**
 * The platform floor of the tunnel benchmarks: three bare node:tls relay hops in a row
 * (bench/fixtures/tls-hop.mjs), shaped like proxy → streaming endpoint → agent, with the hub's own
 * certificate. It runs in the same rounds as the product and OpenSSH, so a reader can tell what the
 * product costs on top of Node's TLS (product vs floor) and what Node's TLS and the extra hop cost
 * against OpenSSH (floor vs ssh).
 */
import { join } from 'node:path';
import { spawnProc, type Proc } from '../../test/harness.js';

const HOP = join(import.meta.dirname, '..', 'fixtures', 'tls-hop.mjs');

export interface TlsFloor {
  /** Where the client connects (the first hop, plain TCP like `devicestreams proxy`). */
  port: number;
  procs: Proc[];
}

/** Starts the chain towards `targetPort`; `tlsDir` holds the hub's server.pem, server-key.pem, ca.pem. */
export async function startTlsFloor(tlsDir: string, targetPort: number): Promise<TlsFloor> {
  const files = [join(tlsDir, 'server.pem'), join(tlsDir, 'server-key.pem'), join(tlsDir, 'ca.pem')];
  const procs: Proc[] = [];
  let next = targetPort;
  for (const mode of ['tls-tcp', 'tls-tls', 'tcp-tls']) {
    const proc = spawnProc(process.execPath, [HOP, mode, String(next), ...files]);
    procs.push(proc);
    next = Number((await proc.waitFor(/PORT (\d+)/))[1]);
  }
  return { port: next, procs };
}
