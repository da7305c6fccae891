import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { readBody } from './respond.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server === undefined ? r() : server.close(() => r()))));

/** A server whose one route reads the body with a 300 ms deadline; resolves with what readBody did. */
async function serve(): Promise<{ port: number; outcome: Promise<unknown> }> {
  let settle: (v: unknown) => void = () => undefined;
  const outcome = new Promise<unknown>((r) => (settle = r));
  server = createServer((req, res) => {
    readBody(req, 1024, 300).then(
      (body) => {
        settle(body);
        res.end('ok');
      },
      (err: unknown) => settle(err),
    );
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, outcome };
}

describe('readBody', () => {
  it('gives a body that stops arriving a RequestBodyTimeout (408001) at its deadline and closes the connection', async () => {
    const { port, outcome } = await serve();
    const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '100' } });
    const closed = new Promise<void>((r) => req.once('error', () => r()).once('close', () => r()));
    req.write('only ten b');
    const err = await outcome;
    expect(err).toBeInstanceOf(DsError);
    expect((err as DsError).code).toBe(ErrorCode.RequestBodyTimeout);
    await closed;
  });

  it('reads a whole body that arrives in pieces within its deadline', async () => {
    const { port, outcome } = await serve();
    const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '20' } });
    req.on('error', () => undefined);
    req.write('0123456789');
    await new Promise((r) => setTimeout(r, 100));
    req.end('abcdefghij');
    expect(String(await outcome)).toBe('0123456789abcdefghij');
  });
});
