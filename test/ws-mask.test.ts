/**
 * The masks our WebSocket client puts on its frames, read off the wire by a server that does the
 * upgrade by hand: all-zero inside TLS (no intermediary reads the bytes, both ends skip the XOR),
 * random on a cleartext ws:// leg, where RFC 6455's masking is what keeps a transparent proxy from
 * taking payload bytes for HTTP of its own.
 */
import { createHash } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { connectWebSocket } from '../shared/ws-connect.js';
import { useLocalTls } from './fixtures/local-tls.js';

const tls = useLocalTls('ds-ws-mask-');

/** The 4 mask bytes of each frame the client sends, as hex. */
type Masks = Promise<string[]>;

/**
 * Answers one upgrade with 101 and resolves with the masks of the first `frames` frames the client
 * sends (each a short binary frame: 2 header bytes, 4 mask bytes, the payload).
 */
function onConnection(s: Socket, frames: number, resolve: (m: string[]) => void, reject: (e: Error) => void): void {
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const masks: string[] = [];
  s.on('error', reject);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      buf = buf.subarray(end + 4);
      const wsKey = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(`${wsKey}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      upgraded = true;
    }
    while (buf.length >= 6 && masks.length < frames) {
      const b1 = buf[1] as number;
      if ((b1 & 0x80) === 0) {
        reject(new Error('a client frame without the mask bit'));
        return;
      }
      const len = b1 & 0x7f;
      if (len >= 126) {
        reject(new Error('expected short frames'));
        return;
      }
      if (buf.length < 6 + len) return;
      masks.push(buf.subarray(2, 6).toString('hex'));
      buf = buf.subarray(6 + len);
    }
    if (masks.length === frames) resolve(masks);
  });
}

async function listen(server: Server): Promise<number> {
  tls.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Connects with connectWebSocket, sends `frames` short binary messages, resolves with their masks. */
async function masksOf(scheme: 'ws' | 'wss', frames: number): Masks {
  let got!: Masks;
  const ready = new Promise<number>((resolvePort, rejectPort) => {
    got = new Promise<string[]>((resolve, reject) => {
      const handler = (s: Socket): void => onConnection(s, frames, resolve, reject);
      listen(scheme === 'ws' ? createTcpServer(handler) : createTlsServer({ cert: tls.cert, key: tls.key }, handler)).then(resolvePort, rejectPort);
    });
  });
  const port = await ready;
  const ws = await connectWebSocket(`${scheme}://localhost:${port}/stream`, { headers: {}, ca: tls.ca, timeoutMs: 5000 });
  ws.resume();
  for (let i = 0; i < frames; i++) ws.send(Buffer.from(`payload ${i}`), { binary: true });
  try {
    return await got;
  } finally {
    ws.terminate();
  }
}

describe('WebSocket client masks', () => {
  it('inside TLS (wss://) every frame carries the all-zero mask', async () => {
    const masks = await masksOf('wss', 4);
    expect(masks).toEqual(['00000000', '00000000', '00000000', '00000000']);
  });

  it('on a cleartext ws:// leg every frame carries a nonzero mask, a different one each frame', async () => {
    const masks = await masksOf('ws', 4);
    expect(masks).toHaveLength(4);
    for (const m of masks) expect(m).not.toBe('00000000');
    expect(new Set(masks).size).toBe(4);
  });
});
