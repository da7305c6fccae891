/**
 * The terminal socket's guards seen from a browser session: a foreign page cannot ride the
 * session cookie into a terminal, and logging out ends the terminals of that session.
 */
import { readFileSync } from 'node:fs';
import { WebSocket as NodeWebSocket } from 'ws';
import { apiLogin, openTerminal, streamLog, tag, typeLine, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import type { StackEnv } from './fixtures/stack-env.js';
import { expect, test } from './fixtures/test.js';

/** Tries a terminal upgrade from Node with `cookie` and `origin`; the HTTP status (101 if it opened). */
function tryUpgrade({ baseURL, caFile, devices }: StackEnv, cookie: string, origin: string): Promise<number> {
  const url = `${baseURL.replace(/^http/, 'ws')}/api/terminal?deviceId=${devices.shell}&cols=80&rows=24`;
  const ws = new NodeWebSocket(url, { headers: { cookie, origin }, ca: readFileSync(caFile, 'utf8') });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close(1000);
    });
    ws.on('error', (err) => reject(err));
  });
}

test('a terminal upgrade from a foreign Origin is refused even with a valid session cookie', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  await page.goto('/');
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  const session = (await page.context().cookies()).find((c) => c.name === '__Host-ds_session');
  expect(session, 'the session cookie').toBeDefined();
  const cookie = `${session?.name}=${session?.value}`;

  expect(await tryUpgrade(stack, cookie, 'https://evil.example')).toBe(403);
  // The same cookie from the console's own origin does open a socket: the Origin made the difference.
  expect(await tryUpgrade(stack, cookie, new URL(stack.baseURL).origin)).toBe(101);
});

test('logging out while a terminal is open ends the terminal', async ({ page, playwright, stack }) => {
  const { admin, operator, devices, baseURL } = stack;
  const sockets = watchTerminalSockets(page);
  await apiLogin(page.request, operator);
  await openTerminal(page, devices.shell);
  const word = `still-here-${tag()}`;
  await typeLine(page, `echo ${word}`);
  await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  const socket = sockets[0];
  const streamId = socket?.streamId();
  expect(streamId).toBeDefined();
  const session = (await page.context().cookies()).find((c) => c.name === '__Host-ds_session');
  const cookie = `${session?.name}=${session?.value}`;

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('textbox', { name: 'Username' })).toBeVisible();
  await socket?.closed;
  const lastError = socket?.statuses.filter((s) => s.type === 'error').pop();
  console.log(`terminal socket closed after logout; last server message: ${JSON.stringify(lastError ?? null)}`);

  // The session is gone: its old cookie opens no terminal any more.
  expect(await tryUpgrade(stack, cookie, new URL(baseURL).origin)).toBe(401);

  // The stream log (read as admin, in a fresh API session) shows the stream ended.
  const adminApi = await playwright.request.newContext({ baseURL, ignoreHTTPSErrors: true });
  try {
    await apiLogin(adminApi, admin);
    await expect
      .poll(async () => (await streamLog(adminApi, `deviceId=${devices.shell}&operator=${operator.name}`)).find((s) => s.streamId === streamId))
      .toMatchObject({ streamId, operator: operator.name, state: 'ended' });
  } finally {
    await adminApi.dispose();
  }
});
