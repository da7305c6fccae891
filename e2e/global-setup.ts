/**
 * Starts the real stack once for every browser test: builds the console (the BFF serves
 * web/dist), then a hub process (hub + gateway + console, local TLS CA), a shell server and agents
 * through the same harness the integration tests use. Accounts are made through the console API.
 * Returns the teardown: the harness can only stop processes started in its own process.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '@playwright/test';
import { CLI, ROOT, spawnCli, startAgent, startHub, startShellServer, stopAll, tempDir, type HubHandle, type Proc } from '../test/harness.js';
import { findLeaks } from './fixtures/secrets.js';
import { publishStackEnv, type Account, type StackEnv } from './fixtures/stack-env.js';
import { startDemoWeb, type DemoWeb } from '../scripts/demo-web.js';

const CLEAN_BASH = join(import.meta.dirname, 'fixtures', 'clean-bash.sh');
const DEVICES = { shell: 'e2e-device', rejects: 'e2e-rejects', offline: 'e2e-offline', disabled: 'e2e-disabled', web: 'e2e-web' };

function password(): string {
  return randomBytes(15).toString('base64url');
}

function buildConsole(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-web.js')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building the console (node scripts/build-web.js) failed with exit ${String(r.status)}`);
}

/** The device kit the hub serves to install.sh (the Add device test installs it), built when missing or older than its sources. */
function buildDeviceKit(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-device.js'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building the device kit (node scripts/build-device.js) failed with exit ${String(r.status)}`);
}

/** `devicestreams policy …` against the hub's data directory; its stdout. */
function policyCli(args: string[], hub: HubHandle): string {
  const r = spawnSync(process.execPath, [CLI, 'policy', ...args, '--data-dir', hub.dataDir, '--host-name', `localhost:${hub.port}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`devicestreams policy ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Every key the browser must never see: device keys, policy keys, the hub's own secrets, passwords. */
async function collectSecrets(hub: HubHandle, accounts: Account[]): Promise<string[]> {
  const secrets: string[] = [];
  for (const id of Object.values(DEVICES)) {
    const d = await hub.service.getDevice(id);
    secrets.push(d.authentication.symmetricKey.primaryKey, d.authentication.symmetricKey.secondaryKey);
  }
  const policies = policyCli(['list'], hub)
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
  if (policies.length === 0) throw new Error('devicestreams policy list printed no policies');
  for (const name of policies) {
    const key = /SharedAccessKey=([^;\s]+)/.exec(policyCli(['connection-string', name], hub))?.[1];
    if (key === undefined) throw new Error(`no key in the connection string of policy ${name}`);
    secrets.push(key);
  }
  // The hub's own secrets (the stream-token signing key…), in the encodings a leak would take.
  const secretsDir = join(hub.dataDir, 'secrets');
  for (const file of readdirSync(secretsDir)) {
    const b64 = readFileSync(join(secretsDir, file), 'utf8').trim();
    const raw = Buffer.from(b64, 'base64');
    secrets.push(b64, raw.toString('base64url'), raw.toString('hex'));
  }
  secrets.push(...accounts.map((a) => a.password));
  return [...new Set(secrets.filter((s) => s.length >= 8))];
}

/**
 * After the run: every API body and socket text any page received (each test also checks its own;
 * this sees the run as a whole, whatever order the specs ran in).
 */
function scanResponseLog(env: StackEnv): void {
  if (!existsSync(env.responseLog)) return;
  const lines = readFileSync(env.responseLog, 'utf8').split('\n').filter((l) => l !== '');
  const leaks = lines.flatMap((line) => {
    const { url, body } = JSON.parse(line) as { url: string; body: string };
    return findLeaks(body, env.secrets).map((l) => `${url}: ${l}`);
  });
  console.log(`no-secrets: scanned ${lines.length} API bodies and socket texts the pages received`);
  if (leaks.length > 0) throw new Error(`secrets reached the browser:\n${leaks.join('\n')}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  buildConsole();
  buildDeviceKit();
  const started: Proc[] = [];
  let web: DemoWeb | undefined;
  try {
    const admin: Account = { name: 'admin', password: password() };
    const operator: Account = { name: 'e2e-operator', password: password() };
    const viewer: Account = { name: 'e2e-viewer', password: password() };

    const hub = await startHub(['--terminal-connect-timeout', '3'], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: admin.password });
    started.push(hub.proc);

    // The shell server's sessions get a clean bash with a fixed prompt and a throwaway home.
    chmodSync(CLEAN_BASH, 0o755);
    const home = tempDir('ds-e2e-home-');
    const shell = await startShellServer([
      '--shell', CLEAN_BASH, '--cwd', home,
      '--env', 'PS1=$ ', '--env', `HOME=${home}`, '--env', `HISTFILE=${join(home, '.bash_history')}`,
    ]);
    started.push(shell.proc);
    // The shell device also serves files (devicestreams file-server) from a directory of its own.
    const filesRoot = tempDir('ds-e2e-files-');
    const filesSocket = join(tempDir('ds-e2e-fsock-'), 'run', 'files.sock');
    const files = spawnCli(['file-server', '--root', filesRoot, '--listen', `unix:${filesSocket}`]);
    started.push(files);
    await files.waitFor(/LISTENING unix:/);
    started.push(await startAgent(hub, DEVICES.shell, [shell.map, `files=unix:${filesSocket}`]));
    started.push(await startAgent(hub, DEVICES.rejects, []));
    // A device web app (scripts/demo-web.ts) mapped as http; /cookies-seen lists the Cookie headers it got.
    web = await startDemoWeb({
      name: DEVICES.web,
      extra: (req, res) => {
        if (req.url !== '/cookies-seen') return false;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(web?.cookiesSeen ?? []));
        return true;
      },
    });
    started.push(await startAgent(hub, DEVICES.web, [`http=127.0.0.1:${web.port}`]));
    await hub.service.createDevice(DEVICES.offline);
    await hub.service.createDevice(DEVICES.disabled, { status: 'disabled' });

    const origin = new URL(hub.url).origin;
    const api = await request.newContext({ baseURL: hub.url, ignoreHTTPSErrors: true, extraHTTPHeaders: { origin } });
    try {
      const login = await api.post('/api/login', { data: { username: admin.name, password: admin.password } });
      if (login.status() !== 200) throw new Error(`admin login failed: HTTP ${login.status()} ${await login.text()}`);
      for (const [account, role] of [[operator, 'operator'], [viewer, 'viewer']] as const) {
        const r = await api.post('/api/operators', { data: { name: account.name, password: account.password, role } });
        if (r.status() !== 201) throw new Error(`creating ${role} ${account.name} failed: HTTP ${r.status()} ${await r.text()}`);
      }
    } finally {
      await api.dispose();
    }

    const env: StackEnv = {
      baseURL: hub.url,
      caFile: hub.caFile,
      dataDir: hub.dataDir,
      hubPid: hub.proc.pid,
      pids: started.map((p) => p.pid),
      admin,
      operator,
      viewer,
      devices: DEVICES,
      filesRoot,
      secrets: await collectSecrets(hub, [admin, operator, viewer]),
      responseLog: join(tempDir('ds-e2e-log-'), 'responses.jsonl'),
    };
    publishStackEnv(env);
    return async () => {
      try {
        scanResponseLog(env);
      } finally {
        await web?.close();
        await stopAll();
      }
    };
  } catch (err) {
    await web?.close();
    await stopAll();
    throw err;
  }
}
