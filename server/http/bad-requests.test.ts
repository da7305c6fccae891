/**
 * Requests the parser refuses get a typed answer before the connection closes, and a body nobody
 * reads cannot hold a connection past the linger time. A real Node HTTP server on loopback, raw
 * TCP clients writing exactly the bytes under test.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { LINGER_MS, answerBadRequests } from './bad-requests.js';

let server: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  server = undefined;
});

/**
 * A server as the hub's: `/slow` answers after 200 ms, `/refuse` answers 401 at once without
 * reading the body, anything else 200 'ok' after reading it.
 */
async function serve(): Promise<number> {
  server = createServer((req, res) => {
    if (req.url === '/refuse') {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '2' }).end('no');
      return;
    }
    req.resume();
    req.once('end', () => setTimeout(() => res.writeHead(200, { 'content-length': '2' }).end('ok'), req.url === '/slow' ? 200 : 0));
  });
  answerBadRequests(server);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A raw connection: what it has received so far, and when it closed. */
async function raw(port: number): Promise<{ s: Socket; text: () => string; closed: Promise<void> }> {
  const s = connect(port, '127.0.0.1');
  sockets.push(s);
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  await new Promise((r) => s.once('connect', r));
  return { s, text: () => got, closed };
}

/** Status line and parsed JSON body of the last answer in `text`. */
function lastAnswer(text: string): { status: number; body: { errorCode?: number; message?: string } } {
  const at = text.lastIndexOf('HTTP/1.1 ');
  const answer = text.slice(at);
  return { status: Number(answer.slice(9, 12)), body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { errorCode?: number; message?: string } };
}

describe('requests the HTTP parser refuses', () => {
  it('answers headers past 16 KiB with 431 and HeadersTooLarge (431001), then closes', async () => {
    const c = await raw(await serve());
    c.s.write(`GET /x HTTP/1.1\r\nHost: h\r\nX-A: ${'a'.repeat(20_000)}\r\n\r\n`);
    await c.closed;
    expect(lastAnswer(c.text())).toMatchObject({ status: 431, body: { errorCode: ErrorCode.HeadersTooLarge } });
  });

  it.each([
    ['a method with a space', 'BAD METHOD /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a negative Content-Length', 'PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n'],
    ['Content-Length with Transfer-Encoding', 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a control byte in a header value', 'GET /x HTTP/1.1\r\nHost: h\r\nX-B: a\x01b\r\n\r\n'],
  ])('answers %s with 400 and InvalidRequest (400001) naming the fault, then closes', async (_what, request) => {
    const c = await raw(await serve());
    c.s.write(request);
    await c.closed;
    const a = lastAnswer(c.text());
    expect(a).toMatchObject({ status: 400, body: { errorCode: ErrorCode.InvalidRequest } });
    expect(a.body.message).toMatch(/^malformed HTTP request: \S/);
  });

  it('answers a good request whose answer is still being made before the 400 of the garbage pipelined after it', async () => {
    const c = await raw(await serve());
    c.s.write('POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}BAD METHOD / HTTP/1.1\r\n\r\n');
    await c.closed;
    const text = c.text();
    expect(text.startsWith('HTTP/1.1 200 OK')).toBe(true);
    expect(text).toContain('\r\n\r\nok');
    expect(lastAnswer(text).status).toBe(400);
  });
});

describe('a connection that goes on sending after its parse error', () => {
  it('gets one answer however much garbage follows while the good request before it is answered', async () => {
    const c = await raw(await serve());
    c.s.write('POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}BAD METHOD / HTTP/1.1\r\n\r\n');
    for (let i = 0; i < 200; i++) c.s.write(`more garbage ${i}\r\n`);
    await c.closed;
    const text = c.text();
    expect(text.startsWith('HTTP/1.1 200 OK')).toBe(true);
    expect(text.match(/HTTP\/1\.1 400 /g)).toHaveLength(1);
  });

  it('is closed at once when the fault is inside the body of the request being answered (a bad chunk size): that request can never end', async () => {
    const c = await raw(await serve());
    c.s.write('POST /slow HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    const closed = await Promise.race([c.closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open after 5 s'), 5000))]);
    expect(closed).toBe('closed');
    expect(c.text()).not.toContain('200 OK');
  });
});

describe('a body its handler answered without reading', () => {
  it(`closes the connection ${LINGER_MS / 1000} s after the answer while the client still trickles the body`, { timeout: LINGER_MS + 10_000 }, async () => {
    const c = await raw(await serve());
    c.s.write('PUT /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n\r\n');
    const trickle = setInterval(() => c.s.write('x'), 250);
    try {
      await new Promise<void>((r) => { const check = setInterval(() => { if (c.text().includes('\r\n\r\nno')) { clearInterval(check); r(); } }, 20); });
      const answeredAt = Date.now();
      await c.closed;
      // Not cut with the answer (a client still sending may need a moment to read it), nor held.
      expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(LINGER_MS - 100);
      expect(c.text().startsWith('HTTP/1.1 401')).toBe(true);
    } finally {
      clearInterval(trickle);
    }
  });

  it('keeps the connection when the rest of the body arrives within the linger time: the next request on it is answered', async () => {
    const c = await raw(await serve());
    c.s.write('PUT /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345');
    await new Promise<void>((r) => { const check = setInterval(() => { if (c.text().includes('\r\n\r\nno')) { clearInterval(check); r(); } }, 20); });
    c.s.write('67890GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
    await new Promise<void>((r) => { const check = setInterval(() => { if (c.text().includes('\r\n\r\nok')) { clearInterval(check); r(); } }, 20); });
    await new Promise((r) => setTimeout(r, LINGER_MS + 500));
    expect(c.s.destroyed).toBe(false);
  }, LINGER_MS + 10_000);
});
