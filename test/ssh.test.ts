/**
 * A real OpenSSH client through `devicestreams proxy`, to a private sshd on the device side:
 * hub, agent (mapping "ssh" to the sshd) and proxy run as real processes over real TLS; the sshd
 * has its own host key, an authorized_keys for a freshly generated client key, and listens on a
 * free loopback port. ssh runs a command, scp copies 1 MiB up, and `cat` brings it back.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProc, startAgent, startHub, startProxy, stopAll, tempDir, type HubHandle, type Proc } from './harness.js';

const SSHD = '/usr/sbin/sshd';
const SSH = '/usr/bin/ssh';
const SCP = '/usr/bin/scp';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';

let hub: HubHandle;
let dir: string;
let clientKey: string;
let sshdPort: number;
let proxyPort: number;
const user = userInfo().username;

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion (asynchronously, so the harness keeps draining its children). */
function run(file: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

async function mustRun(file: string, args: string[]): Promise<void> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/** A loopback port that was free a moment ago (bind port 0, read it, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the private sshd on a free loopback port, retrying when the port was taken meanwhile. */
async function startSshd(): Promise<{ proc: Proc; port: number }> {
  // sshd checks for its privilege separation directory even when it does not chroot into it.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await mustRun(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'devicestreams-test-host', '-f', hostKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`));
  chmodSync(authorizedKeys, 0o600);
  let lastOutput = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, `sshd_config.${port}`);
    writeFileSync(
      config,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `PidFile ${join(dir, `sshd.${port}.pid`)}`,
        'UsePAM no',
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'X11Forwarding no',
        'AllowTcpForwarding no',
        'PrintMotd no',
        'PrintLastLog no',
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const proc = spawnProc(SSHD, ['-D', '-e', '-f', config]);
    try {
      await proc.waitFor(/Server listening on 127\.0\.0\.1 port (\d+)/, 15_000);
      return { proc, port };
    } catch (err) {
      lastOutput = proc.output();
      proc.kill('SIGKILL');
      if (!/Address already in use|Cannot bind/i.test(lastOutput)) throw err;
    }
  }
  throw new Error(`sshd could not bind a free port:\n${lastOutput}`);
}

/** ssh options for the test: our key only, no host-key prompts or files, no config of the user's. */
function sshOptions(): string[] {
  return [
    '-F', '/dev/null',
    '-i', clientKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=20',
    '-o', 'LogLevel=ERROR',
  ];
}

function ssh(command: string): Promise<RunResult> {
  return run(SSH, ['-p', String(proxyPort), ...sshOptions(), `${user}@127.0.0.1`, command]);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeAll(async () => {
  dir = tempDir('ds-ssh-');
  clientKey = join(dir, 'client_ed25519');
  await mustRun(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'devicestreams-test-client', '-f', clientKey]);
  sshdPort = (await startSshd()).port;
  hub = await startHub();
  await startAgent(hub, 'ssh-dev', [`ssh=127.0.0.1:${sshdPort}`]);
  proxyPort = (await startProxy(hub, 'ssh-dev', 'ssh')).port;
});

afterAll(stopAll);

describe('OpenSSH through devicestreams proxy', () => {
  it('logs in with a key and runs a command on the device', async () => {
    const r = await ssh('echo hello-from-device-$((6*7))');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString('utf8').trim()).toBe('hello-from-device-42');
  });

  it('copies 1 MiB up with scp and back with cat, intact', async () => {
    const data = randomBytes(1024 * 1024);
    const local = join(dir, 'upload.bin');
    const remote = join(dir, 'on-device.bin');
    writeFileSync(local, data);

    const up = await run(SCP, ['-P', String(proxyPort), ...sshOptions(), '-q', local, `${user}@127.0.0.1:${remote}`], 60_000);
    expect(up.code, up.stderr).toBe(0);
    // The "device" is this machine: the file sshd wrote is where scp put it.
    expect(sha256(readFileSync(remote))).toBe(sha256(data));

    const down = await ssh(`cat ${remote}`);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout.length).toBe(data.length);
    expect(sha256(down.stdout)).toBe(sha256(data));

    const sum = await ssh(`sha256sum ${remote}`);
    expect(sum.code, sum.stderr).toBe(0);
    expect(sum.stdout.toString('utf8').split(/\s+/)[0]).toBe(sha256(data));
  });

  it('refuses a client whose key is not authorized (end to end, through the tunnel)', async () => {
    const otherKey = join(dir, 'stranger_ed25519');
    await mustRun(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const opts = sshOptions();
    opts[opts.indexOf(clientKey)] = otherKey;
    const r = await run(SSH, ['-p', String(proxyPort), ...opts, `${user}@127.0.0.1`, 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('records each ssh connection as its own accepted stream in the log', async () => {
    // Give the last connection's end a moment to reach the log.
    let streams = (await hub.service.listStreams({ deviceId: 'ssh-dev' })).streams;
    for (let i = 0; i < 30 && streams.some((s) => s.state !== 'ended'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      streams = (await hub.service.listStreams({ deviceId: 'ssh-dev' })).streams;
    }
    const accepted = streams.filter((s) => s.result === 'accepted' && s.streamName === 'ssh');
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    for (const s of accepted) expect(s.state).toBe('ended');
    expect(accepted.some((s) => s.bytesToDevice >= 1024 * 1024)).toBe(true);
    expect(accepted.some((s) => s.bytesFromDevice >= 1024 * 1024)).toBe(true);
  });
});
