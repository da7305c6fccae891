/**
 * No key, token or connection string ever reaches the browser: not in the built console (neither
 * the one the hub serves, web/dist, nor one built while the running hub's keys exist and sit in
 * the build's environment), not in any API answer or socket status text. Every test already checks
 * what its own page received (fixtures/test.ts); this spec walks every screen once more, and the
 * global setup's teardown scans the whole run's record of what pages received (global-setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConnectionString } from '../shared/connection-string.js';
import { createServiceClient } from '../server/sdk/service-client.js';
import { CLI, ROOT } from '../test/harness.js';
import { apiLogin, openTerminal, tag, typeLine, waitForTerminal } from './fixtures/console.js';
import { findLeaks } from './fixtures/secrets.js';
import type { StackEnv } from './fixtures/stack-env.js';
import { expect, test } from './fixtures/test.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** `devicestreams policy …` on the running hub's data directory; its stdout. */
function policyCli(stack: StackEnv, args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, 'policy', ...args, '--data-dir', stack.dataDir, '--host-name', new URL(stack.baseURL).host], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`devicestreams policy ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * The running hub's keys, read from its data as an operator could: every policy's connection
 * string through the CLI, every device's keys through the registry API with the owner's connection
 * string, and the hub's own secrets (the stream-token signing key…) from DATA_DIR/secrets in the
 * encodings a leak would take.
 */
async function runningHubKeys(stack: StackEnv): Promise<{ keys: string[]; connectionStrings: string[] }> {
  const policies = policyCli(stack, ['list'])
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
  expect(policies, "the hub's policies").toContain('iothubowner');
  const connectionStrings = policies.map((name) => policyCli(stack, ['connection-string', name]).trim());
  const keys = connectionStrings.map((cs) => /SharedAccessKey=([^;\s]+)/.exec(cs)?.[1] ?? '');
  const owner = connectionStrings[policies.indexOf('iothubowner')] as string;
  const devices = await createServiceClient(owner, { ca: readFileSync(stack.caFile, 'utf8'), hubUrl: stack.baseURL }).listDevices();
  expect(devices.map((d) => d.deviceId)).toEqual(expect.arrayContaining(Object.values(stack.devices)));
  const hostName = new URL(stack.baseURL).host;
  for (const d of devices) {
    const { primaryKey, secondaryKey } = d.authentication.symmetricKey;
    keys.push(primaryKey, secondaryKey);
    connectionStrings.push(buildConnectionString({ kind: 'device', hostName, deviceId: d.deviceId, sharedAccessKey: primaryKey }));
  }
  const secretsDir = join(stack.dataDir, 'secrets');
  const files = readdirSync(secretsDir);
  expect(files.length, 'files in DATA_DIR/secrets').toBeGreaterThan(0);
  for (const file of files) {
    const b64 = readFileSync(join(secretsDir, file), 'utf8').trim();
    const raw = Buffer.from(b64, 'base64');
    keys.push(b64, raw.toString('base64url'), raw.toString('hex'));
  }
  for (const k of keys) expect(k.length, 'every key read is a real one').toBeGreaterThanOrEqual(16);
  return { keys, connectionStrings };
}

test("the console contains no secret of the running hub: neither the one it serves nor one built now with its keys in the build's environment", async ({ stack }) => {
  const { keys, connectionStrings } = await runningHubKeys(stack);
  const secrets = [...new Set([...keys, ...stack.secrets, stack.admin.password, stack.operator.password, stack.viewer.password])];

  // A build made while the keys exist, with them where a careless build would pick them up: the
  // variables an operator's shell holds, and the same under Vite's VITE_ prefix (what Vite hands
  // to the page through import.meta.env).
  const env: Record<string, string> = {
    IOTHUB_CONNECTION_STRING: connectionStrings[0] as string,
    DEVICE_CONNECTION_STRING: connectionStrings.at(-1) as string,
    DEVICESTREAMS_ADMIN_PASSWORD: stack.admin.password,
    DEVICESTREAMS_CA: stack.caFile,
  };
  for (const [k, v] of Object.entries(env)) env[`VITE_${k}`] = v;
  connectionStrings.forEach((cs, i) => (env[`VITE_CONNECTION_STRING_${i}`] = cs));
  const outDir = mkdtempSync(join(tmpdir(), 'ds-e2e-console-'));
  try {
    const build = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { build } = await import('vite'); await build({ configFile: ${JSON.stringify(join(ROOT, 'vite.config.ts'))}, logLevel: 'silent', mode: 'production', build: { outDir: ${JSON.stringify(outDir)}, emptyOutDir: true } });`,
      ],
      { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    expect(build.status, `building the console failed: ${build.stderr}`).toBe(0);

    for (const dir of [outDir, join(ROOT, 'web', 'dist')]) {
      const files = filesUnder(dir);
      expect(files.some((f) => f.endsWith('index.html')), `${dir} holds a built console`).toBe(true);
      const leaks = files.flatMap((f) => findLeaks(readFileSync(f, 'latin1'), secrets).map((l) => `${f}: ${l}`));
      expect(leaks).toEqual([]);
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('no answer the browser gets on any screen carries a secret', async ({ page, stack }) => {
  const { admin, devices } = stack;
  await apiLogin(page.request, admin);
  await page.goto('/');
  await expect(page.getByRole('rowheader', { name: devices.shell, exact: true })).toBeVisible();
  await openTerminal(page, devices.shell);
  const word = `secret-check-${tag()}`;
  await typeLine(page, `echo ${word}`);
  await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  for (const id of [devices.rejects, devices.offline]) {
    await page.goto(`/terminal/${id}`);
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled({ timeout: 15_000 });
  }
  await page.getByRole('link', { name: 'History', exact: true }).click();
  await expect(page.getByRole('table')).toBeVisible();
  // The bodies of this page are checked by the fixture when the test ends.
});
