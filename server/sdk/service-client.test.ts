import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { DsError } from '../../shared/errors.js';
import { createServiceClient } from './service-client.js';

let server: Server | undefined;
const held: Socket[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
});

it("says a hub that takes the request and never answers could not be reached (not the device's 504101), naming the call and the wait", async () => {
  // A hub that accepts connections, reads the request and says nothing.
  server = createServer((s) => {
    held.push(s);
    s.resume();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = createServiceClient(`HostName=127.0.0.1:${port};SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`, {
    hubUrl: `http://127.0.0.1:${port}`,
    requestTimeoutMs: 1000,
  });
  const err = await client.listDevices().catch((e: unknown) => e);
  expect(err).not.toBeInstanceOf(DsError);
  expect((err as Error).message).toBe(`cannot reach the hub at http://127.0.0.1:${port}: no answer to GET /devices for 1 s`);
});
