/**
 * A private OpenSSH server for tests and benchmarks: its own host key, an authorized_keys for a
 * freshly generated client key, a free loopback port, its own config; started as a harness process
 * (so stopAll() kills it by pid). Needs Debian's openssh-server and openssh-client.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnProc, tempDir, type Proc } from './harness.js';

export const SSHD = '/usr/sbin/sshd';
export const SSH = '/usr/bin/ssh';
export const SCP = '/usr/bin/scp';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';

export interface PrivateSshd {
  proc: Proc;
  port: number;
  user: string;
  dir: string;
  clientKey: string;
  /** Client options: our key only, no prompts, no host-key files, no user config. */
  options: () => string[];
}

export interface SshdOptions {
  /** `local` lets `ssh -L` forward (benchmarks); default `no`. */
  allowTcpForwarding?: 'no' | 'local';
  extraConfig?: string[];
}

/** Runs a program to completion; resolves with its exit code and output. */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

async function keygen(file: string, comment: string): Promise<void> {
  const r = await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed (${r.code}): ${r.stderr}`);
}

/** What is missing for an sshd, or undefined when everything is installed. */
export function sshMissing(): string | undefined {
  for (const f of [SSHD, SSH, SSH_KEYGEN]) if (!existsSync(f)) return `${f} is missing (apt-get install -y openssh-server openssh-client)`;
  return undefined;
}

export async function startPrivateSshd(o: SshdOptions = {}): Promise<PrivateSshd> {
  const missing = sshMissing();
  if (missing !== undefined) throw new Error(missing);
  const dir = tempDir('ds-sshd-');
  const user = userInfo().username;
  const clientKey = join(dir, 'client_ed25519');
  await keygen(clientKey, 'devicestreams-client');
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await keygen(hostKey, 'devicestreams-host');
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`));
  chmodSync(authorizedKeys, 0o600);
  // sshd checks for its privilege separation directory even when it does not chroot into it.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  let lastOutput = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, `sshd_config.${port}`);
    writeFileSync(config, [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir, `sshd.${port}.pid`)}`,
      'UsePAM no',
      'UseDNS no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'X11Forwarding no',
      `AllowTcpForwarding ${o.allowTcpForwarding ?? 'no'}`,
      'PrintMotd no',
      'PrintLastLog no',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      // bash sources ~/.bashrc for a command run by sshd when it is the top-level shell; SHLVL=1
      // makes it a second-level one, so what runs is the command and not the account's rc files
      // (on these machines `pyenv init`, which can wait 60 s on a stale lock).
      'SetEnv SHLVL=1',
      ...(o.extraConfig ?? []),
      '',
    ].join('\n'));
    const proc = spawnProc(SSHD, ['-D', '-e', '-f', config]);
    try {
      await proc.waitFor(/Server listening on 127\.0\.0\.1 port (\d+)/, 15_000);
      const options = (): string[] => [
        '-F', '/dev/null',
        '-i', clientKey,
        '-o', 'IdentitiesOnly=yes',
        '-o', 'IdentityAgent=none',
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes',
        '-o', 'ConnectTimeout=20',
        '-o', 'ControlMaster=no',
        '-o', 'ControlPath=none',
        '-o', 'LogLevel=ERROR',
      ];
      return { proc, port, user, dir, clientKey, options };
    } catch (err) {
      lastOutput = proc.output();
      proc.kill('SIGKILL');
      if (!/Address already in use|Cannot bind/i.test(lastOutput)) throw err;
    }
  }
  throw new Error(`sshd could not bind a free port:\n${lastOutput}`);
}
