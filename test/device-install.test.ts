/**
 * install.sh against a real hub, as an admin's pasted line runs it on a device (here with a prefix
 * in a temp dir and without systemd): the CA is checked against its fingerprint before anything is
 * trusted, the token is exchanged at POST /enroll, the device comes online with a 0600 config owned
 * by the agent's account and its key in no process list or log, a second run upgrades in place
 * keeping the identity (to a newer kit too, once the hub serves one), --uninstall removes
 * everything. Wrong fingerprints and refused tokens change nothing. Runs as root (it creates and
 * removes the system account `devicestreams`).
 */
import Database from 'better-sqlite3';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFingerprint, installCommand } from '../server/hub/install-command.js';
import { FrameDecoder, TERMINAL_PROTOCOL_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { KIT_OUT, buildAndUnpackKit } from './fixtures/device-kit.js';
import { echoOnce } from './fixtures/fault-helpers.js';
import { sleep, spawnProc, startEchoServer, startHub, stopAll, tempDir, type HubHandle } from './harness.js';

const ACCOUNT = 'devicestreams';
let hub: HubHandle;
let echoPort: number;
let script: string;
let accountExisted = false;

/** The account's uid, or undefined when there is none. */
function uidOf(name: string): number | undefined {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

function download(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body = (body + d).slice(0, 1_000_000)));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Runs a shell command line to its end (bounded); its output is the install log. */
async function sh(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; log: string }> {
  const p = spawnProc('sh', args);
  const code = await Promise.race([p.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (code === 'timeout') throw new Error(`sh ${args.join(' ').slice(0, 200)} did not finish in ${timeoutMs} ms:\n${p.output()}`);
  return { code, log: p.output() };
}

/** A one-use token for `target` from the hub's REST API (what the CLI and console call). */
async function token(target: string, maps: string[]): Promise<{ token: string; installCommand: string }> {
  const r = await hub.service.call('POST', '/enrollment-tokens', { body: { target, maps, ttlSeconds: 600 } });
  return r.body as { token: string; installCommand: string };
}

/** Whether the registry shows the device connected within `ms` (the store hears of it just after the agent does). */
async function connectedWithin(deviceId: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await hub.service.getDevice(deviceId)).connectionState === 'Connected') return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/** A prefix in a fresh temp dir the agent's account can reach (a device's /opt is world-traversable). */
function newPrefix(): string {
  const dir = tempDir('ds-install-');
  chmodSync(dir, 0o755);
  return join(dir, 'opt', 'devicestreams');
}

/** What comes back within 5 s of `text` sent through a stream to the device's `echo` service. */
async function echoed(deviceId: string, text: string): Promise<string> {
  const s = await hub.service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 10 });
  try {
    return await Promise.race([echoOnce(s, text), sleep(5000).then(() => '(nothing came back within 5 s)')]);
  } finally {
    s.end();
  }
}

/** What the device's agent said it runs when it last connected, from the hub's store. */
function agentOf(deviceId: string): string | null {
  const db = new Database(join(hub.dataDir, 'hub.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT agent FROM devices WHERE device_id = ?').get(deviceId) as { agent: string | null } | undefined)?.agent ?? null;
  } finally {
    db.close();
  }
}

/** The device's agent as the store has it once it says `expected`, or after `ms` what it says then (written just after the agent's hello). */
async function agentWithin(deviceId: string, expected: string, ms: number): Promise<string | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    const agent = agentOf(deviceId);
    if (agent === expected || Date.now() > deadline) return agent;
    await sleep(100);
  }
}

/**
 * A newer kit for this machine, as a hub upgraded to release `version` would serve it: the built
 * kit with its version changed (directory, package.json, the bundle's version literals), packed
 * again with its SHA-256, in the hub's data directory, where the hub looks before the checkout's.
 */
function serveNewerKit(version: string): void {
  const built = JSON.parse(readFileSync(join(KIT_OUT, 'kit.json'), 'utf8')) as { version: string; minNode: string; kits: Record<string, { file: string }> };
  const arch = process.arch;
  const work = tempDir('ds-kit-newer-');
  execFileSync('tar', ['-xzf', join(KIT_OUT, built.kits[arch]?.file ?? ''), '-C', work]);
  const name = `devicestreams-device-${version}-linux-${arch}`;
  renameSync(join(work, `devicestreams-device-${built.version}-linux-${arch}`), join(work, name));
  for (const f of ['package.json', join('lib', 'devicestreams-device.cjs')]) {
    const path = join(work, name, f);
    const text = readFileSync(path, 'utf8');
    expect(text, f).toContain(`"${built.version}"`);
    writeFileSync(path, text.replaceAll(`"${built.version}"`, `"${version}"`));
  }
  const dir = join(hub.dataDir, 'device-kit');
  mkdirSync(dir, { recursive: true });
  const file = `${name}.tar.gz`;
  execFileSync('tar', ['-czf', join(dir, file), '-C', work, name]);
  const sha256 = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
  writeFileSync(join(dir, `${file}.sha256`), `${sha256}  ${file}\n`);
  const entry = { arch, file, sha256 };
  writeFileSync(join(dir, 'kit.json'), JSON.stringify({ version, minNode: built.minNode, ...entry, kits: { [arch]: entry } }));
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test runs as root: it creates and removes a system account');
  accountExisted = uidOf(ACCOUNT) !== undefined;
  buildAndUnpackKit();
  hub = await startHub();
  echoPort = (await startEchoServer()).port;
  const dir = tempDir('ds-install-script-');
  script = join(dir, 'install.sh');
  writeFileSync(script, await download(`${hub.url}/install.sh`, hub.ca));
}, 180_000);

afterAll(async () => {
  // A failed run must not leave the account behind on this machine.
  if (!accountExisted && uidOf(ACCOUNT) !== undefined) spawnSync('userdel', [ACCOUNT]);
  await stopAll();
});

describe('install.sh', () => {
  /** Tokens one test hands to the next (they run in order). */
  const tokens = new Map<string, { token: string; installCommand: string }>();

  it('is valid POSIX sh, and its systemd units say what systemd needs', () => {
    expect(spawnSync('sh', ['-n', script]).status).toBe(0);
    const r = spawnSync('sh', [script, '--print-units', '--prefix', '/opt/devicestreams'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const agent = /### devicestreams-agent\.service\n([\s\S]*?)(?=###|$)/.exec(r.stdout)?.[1] ?? '';
    for (const line of ['Wants=network-online.target', 'Restart=on-failure', `User=${ACCOUNT}`, 'WantedBy=multi-user.target']) expect(agent).toContain(line);
    expect(agent).toMatch(/^After=network-online\.target/m);
    expect(agent).toMatch(/^ExecStart=\/\S+ \/opt\/devicestreams\/current\/bin\/devicestreams-device agent --config \/opt\/devicestreams\/etc\/agent\.json$/m);
    expect(r.stdout).toMatch(/ExecStart=\S+ \S+ shell-server --listen unix:\/opt\/devicestreams\/run\/shell\.sock/);
    // systemd's own check, where this machine has it, on units for a prefix whose command exists.
    const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
    if (analyze === '') return;
    const prefix = newPrefix();
    mkdirSync(join(prefix, 'current', 'bin'), { recursive: true });
    writeFileSync(join(prefix, 'current', 'bin', 'devicestreams-device'), '#!/bin/sh\n', { mode: 0o755 });
    const units = spawnSync('sh', [script, '--print-units', '--prefix', prefix], { encoding: 'utf8' }).stdout;
    const dir = tempDir('ds-units-');
    const files = [...units.matchAll(/### (\S+)\n([^#]*)/g)].map((m) => {
      writeFileSync(join(dir, m[1] as string), m[2] as string);
      return join(dir, m[1] as string);
    });
    expect(files).toHaveLength(3);
    const verified = spawnSync(analyze, ['verify', '--man=no', ...files], { encoding: 'utf8' });
    expect({ status: verified.status, stderr: verified.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('refuses a CA whose fingerprint is not the one given, installing nothing and keeping the token', async () => {
    const t = await token('kit-install-1', ['shell', 'files', `echo=127.0.0.1:${echoPort}`]);
    const prefix = newPrefix();
    const wrong = 'ab'.repeat(32);
    // The pasted line itself: it never runs a script from a hub whose CA does not match.
    const line = installCommand({ publicUrl: hub.url, token: t.token, caPem: hub.ca, prefix, systemd: false }).replace(/[0-9a-f]{64}/g, wrong);
    const pasted = await sh(['-c', line]);
    expect(pasted.code).not.toBe(0);
    expect(pasted.log).toContain(`the CA certificate of the hub is not the one with SHA-256 ${wrong}: not installing`);
    // The script on its own checks it too.
    const direct = await sh([script, '--token', t.token, '--ca-sha256', wrong, '--prefix', prefix, '--no-systemd']);
    expect(direct.code).toBe(1);
    expect(direct.log).toMatch(new RegExp(`the hub's CA certificate has SHA-256 [0-9a-f]{64}, not ${wrong} \\(--ca-sha256\\).*Nothing was changed`));
    expect(existsSync(join(prefix, '..'))).toBe(false);
    expect(uidOf(ACCOUNT) !== undefined).toBe(accountExisted);
    // Nothing was spent: the same token still enrolls (next test).
    tokens.set('kit-install-1', t);
  });

  it('the pasted line installs and enrolls: online, config 0600 owned by the agent, no key in ps or the log; a second run upgrades in place; --uninstall from the copy of the script it kept removes it all', async () => {
    const t = tokens.get('kit-install-1');
    expect(t, 'the token of the previous test').toBeDefined();
    const { token: tok, installCommand: printed } = t as { token: string; installCommand: string };
    // The hub prints the line installCommand() makes.
    expect(printed).toBe(installCommand({ publicUrl: hub.url, token: tok, caPem: hub.ca }));
    const prefix = newPrefix();
    // As the CLI says: the printed line, with --prefix and --no-systemd appended.
    const install = await sh(['-c', `${printed} --prefix ${prefix} --no-systemd`]);
    expect(install.code, install.log).toBe(0);
    expect(install.log).toMatch(/the hub's CA matches --ca-sha256/);
    expect(install.log).toMatch(/enrolled as device "kit-install-1"/);
    expect(install.log).toMatch(/the agent is connected to the hub/);
    expect(await connectedWithin('kit-install-1', 5000)).toBe(true);

    const uid = uidOf(ACCOUNT);
    expect(uid).toBeDefined();
    const config = join(prefix, 'etc', 'agent.json');
    const st = statSync(config);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(uid);
    const key = /SharedAccessKey=([^;\s"]+)/.exec(readFileSync(config, 'utf8'))?.[1] as string;
    expect(key).toMatch(/^[A-Za-z0-9+/]{20,}={0,2}$/);
    expect(await hub.service.deviceConnectionString('kit-install-1')).toContain(key);
    expect(install.log).not.toContain(key);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })).not.toContain(key);
    for (const f of readdirSync(join(prefix, 'log'))) expect(readFileSync(join(prefix, 'log', f), 'utf8'), f).not.toContain(key);
    // What root later reads, appends to or kills by stays root's; the account owns only its own places.
    const owners = Object.fromEntries(['etc', 'log', 'pid', 'run', 'home', 'files'].map((d) => [d, statSync(join(prefix, d)).uid]));
    expect(owners).toEqual({ etc: 0, log: 0, pid: 0, run: uid, home: uid, files: uid });
    expect(statSync(join(prefix, 'etc', 'install.env')).uid).toBe(0);
    const agentPid = Number(readFileSync(join(prefix, 'pid', 'agent.pid'), 'utf8'));
    // The agent and the kit's shell and file servers, each its own process, as the agent's account.
    for (const name of ['agent', 'shell', 'files']) {
      const pid = Number(readFileSync(join(prefix, 'pid', `${name}.pid`), 'utf8'));
      expect(statSync(`/proc/${pid}`).uid, name).toBe(uid);
    }

    // Both services through the hub: the kit's shell server (as the agent's account) and the echo.
    expect(await echoed('kit-install-1', 'installed\n')).toBe('installed\n');
    const shell = await hub.service.initiateStream('kit-install-1', 'shell', { connectTimeoutSeconds: 10 });
    const decoder = new FrameDecoder();
    let screen = '';
    shell.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) if (f.type === 'data') screen += Buffer.from(f.data).toString('utf8');
    });
    shell.write(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, term: 'xterm', cols: 80, rows: 24 }));
    shell.write(encodeFrame({ type: 'data', data: new TextEncoder().encode('echo "who=$(id -un)"\r') }));
    for (let i = 0; i < 400 && !/who=\w+/.test(screen); i++) await sleep(25);
    expect(screen).toMatch(new RegExp(`who=${ACCOUNT}`));
    shell.destroy();

    // Again, without a token: the same identity, a new agent.
    const before = readFileSync(config, 'utf8');
    const upgrade = await sh([script, '--prefix', prefix, '--no-systemd']);
    expect(upgrade.code, upgrade.log).toBe(0);
    expect(upgrade.log).toMatch(/keeping this device's identity/);
    expect(upgrade.log).toMatch(/the agent is connected to the hub/);
    expect(readFileSync(config, 'utf8')).toBe(before);
    expect(existsSync(`/proc/${agentPid}`)).toBe(false);
    expect(readdirSync(join(prefix, 'versions'))).toHaveLength(1);
    expect(await connectedWithin('kit-install-1', 5000)).toBe(true);

    // The token was used: another device cannot have it, and nothing is written for it.
    const other = newPrefix();
    const untrusted = await sh([script, '--token', tok, '--prefix', other, '--no-systemd']);
    expect(untrusted.code).toBe(1);
    expect(untrusted.log).toMatch(/this machine does not trust the hub's certificate: pass --ca-sha256/);
    const reused = await sh([script, '--token', tok, '--ca-sha256', caFingerprint(hub.ca), '--prefix', other, '--no-systemd']);
    expect(reused.code).toBe(1);
    expect(reused.log).toMatch(/the hub refused the enrollment: .*used/i);
    expect(reused.log).toMatch(/nothing was installed/);
    expect(existsSync(join(other, '..'))).toBe(false);

    const running = ['agent', 'shell', 'files'].map((name) => Number(readFileSync(join(prefix, 'pid', `${name}.pid`), 'utf8')));
    expect(running.every((pid) => existsSync(`/proc/${pid}`))).toBe(true);
    // Removed by the copy of the installer the install kept beside the kit (no hub needed).
    const kept = join(prefix, 'install.sh');
    expect(upgrade.log).toContain(`kept this installer as ${kept}`);
    expect((statSync(kept).mode & 0o777).toString(8)).toBe('755');
    const removed = await sh([kept, '--uninstall', '--prefix', prefix]);
    expect(removed.code, removed.log).toBe(0);
    expect(removed.log).toContain(`removed ${prefix}`);
    expect(existsSync(prefix)).toBe(false);
    expect(running.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
    if (!accountExisted) {
      expect(removed.log).toContain(`removed the account ${ACCOUNT}`);
      expect(uidOf(ACCOUNT)).toBeUndefined();
    }
  }, 180_000);

  it("an installed device upgrades to the newer kit its hub serves: the hub's install.sh run again without a token keeps the identity, runs the new version (the hub hears it) and removes the old one", async () => {
    const t = await token('kit-upgrade-1', [`echo=127.0.0.1:${echoPort}`]);
    const prefix = newPrefix();
    let removed: { code: number | null; log: string } | undefined;
    try {
      const install = await sh(['-c', `${t.installCommand} --prefix ${prefix} --no-systemd`]);
      expect(install.code, install.log).toBe(0);
      expect(await connectedWithin('kit-upgrade-1', 5000)).toBe(true);
      const old = (JSON.parse(readFileSync(join(KIT_OUT, 'kit.json'), 'utf8')) as { version: string }).version;
      expect(await agentWithin('kit-upgrade-1', `devicestreams-device/${old}`, 5000)).toBe(`devicestreams-device/${old}`);
      const config = readFileSync(join(prefix, 'etc', 'agent.json'), 'utf8');
      const oldPid = Number(readFileSync(join(prefix, 'pid', 'agent.pid'), 'utf8'));

      const next = `${old}-upgrade.1`;
      serveNewerKit(next);
      const newer = join(tempDir('ds-install-script-'), 'install.sh');
      writeFileSync(newer, await download(`${hub.url}/install.sh`, hub.ca));
      const upgrade = await sh([newer, '--prefix', prefix, '--no-systemd']);
      expect(upgrade.code, upgrade.log).toBe(0);
      expect(upgrade.log).toMatch(/keeping this device's identity/);
      expect(upgrade.log).toContain(`installed the kit ${next} in ${prefix}/versions/${next}`);
      expect(readFileSync(join(prefix, 'etc', 'agent.json'), 'utf8')).toBe(config);
      expect(readdirSync(join(prefix, 'versions'))).toEqual([next]);
      expect(readlinkSync(join(prefix, 'current'))).toBe(`versions/${next}`);
      expect(readFileSync(join(prefix, 'etc', 'install.env'), 'utf8')).toContain(`KIT_VERSION=${next}\n`);
      expect(existsSync(`/proc/${oldPid}`)).toBe(false);
      expect(await connectedWithin('kit-upgrade-1', 5000)).toBe(true);
      expect(await agentWithin('kit-upgrade-1', `devicestreams-device/${next}`, 5000)).toBe(`devicestreams-device/${next}`);
      // The new agent carries streams.
      expect(await echoed('kit-upgrade-1', 'upgraded\n')).toBe('upgraded\n');
    } finally {
      // Whatever failed: the hub serves the checkout's kit again, and nothing stays installed or running.
      rmSync(join(hub.dataDir, 'device-kit'), { recursive: true, force: true });
      if (existsSync(join(prefix, 'install.sh'))) removed = await sh([join(prefix, 'install.sh'), '--uninstall', '--prefix', prefix]);
    }
    expect(removed?.code, removed?.log).toBe(0);
    expect(existsSync(prefix)).toBe(false);
  }, 180_000);
});
