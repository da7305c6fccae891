/**
 * The comparison peer: a private OpenSSH server on a free loopback port with its own config, host
 * key and authorized_keys (as test/ssh.test.ts does it, but with TCP forwarding allowed), and the
 * client commands the benchmarks time: `ssh -L` tunnels and `ssh host true`.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnProc, tempDir, type Proc } from '../../test/harness.js';
import { freePort, runTracked, waitForPort } from './util.js';

const SSHD = '/usr/sbin/sshd';
const SSH = '/usr/bin/ssh';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';

export interface SshPeer {
  sshd: Proc;
  port: number;
  user: string;
  clientKey: string;
  /** ssh options: our key only, no prompts, no host-key files, no user config. */
  options(): string[];
  /** Starts `ssh -N -L` forwarding a fresh local port to 127.0.0.1:`targetPort`; resolves with it. */
  tunnel(targetPort: number): Promise<{ proc: Proc; port: number }>;
  /** `ssh host true`: a full login with key auth; resolves with its wall time in ms. */
  loginTrue(): Promise<number>;
}

async function keygen(file: string, comment: string): Promise<void> {
  const r = await runTracked(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], 30_000);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.output}`);
}

export function sshAvailable(): string | undefined {
  for (const f of [SSHD, SSH, SSH_KEYGEN]) if (!existsSync(f)) return `${f} is missing (apt-get install -y openssh-server openssh-client)`;
  return undefined;
}

export async function startSshPeer(): Promise<SshPeer> {
  const missing = sshAvailable();
  if (missing !== undefined) throw new Error(missing);
  const dir = tempDir('ds-bench-ssh-');
  const user = userInfo().username;
  const clientKey = join(dir, 'client_ed25519');
  await keygen(clientKey, 'devicestreams-bench-client');
  // sshd checks for its privilege separation directory even when it does not chroot into it.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await keygen(hostKey, 'devicestreams-bench-host');
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`));
  chmodSync(authorizedKeys, 0o600);

  let sshd: Proc | undefined;
  let port = 0;
  let lastOutput = '';
  for (let attempt = 0; attempt < 5 && sshd === undefined; attempt++) {
    port = await freePort();
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
        'UseDNS no',
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'X11Forwarding no',
        'AllowTcpForwarding local',
        'MaxStartups 200:30:400',
        'MaxSessions 100',
        'PrintMotd no',
        'PrintLastLog no',
        'LogLevel ERROR',
        // bash sources ~/.bashrc for a command run by sshd when it is the top-level shell; SHLVL=1
        // makes it a second-level one, so `ssh host true` times SSH (key exchange, auth, session,
        // exec) and not whatever the account's rc files do (on some machines: pyenv rehash, nvm…).
        'SetEnv SHLVL=1',
        '',
      ].join('\n'),
    );
    const proc = spawnProc(SSHD, ['-D', '-e', '-f', config]);
    try {
      await waitForPort(port, 15_000);
      sshd = proc;
    } catch {
      lastOutput = proc.output();
      proc.kill('SIGKILL');
      if (!/Address already in use|Cannot bind/i.test(lastOutput)) throw new Error(`sshd did not start:\n${lastOutput}`);
    }
  }
  if (sshd === undefined) throw new Error(`sshd could not bind a free port:\n${lastOutput}`);
  const sshdPort = port;

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

  return {
    sshd,
    port: sshdPort,
    user,
    clientKey,
    options,
    async tunnel(targetPort) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const local = await freePort();
        const proc = spawnProc(SSH, [
          '-N', '-p', String(sshdPort), ...options(),
          '-o', 'ExitOnForwardFailure=yes',
          '-L', `127.0.0.1:${local}:127.0.0.1:${targetPort}`,
          `${user}@127.0.0.1`,
        ]);
        try {
          await Promise.race([
            waitForPort(local, 20_000),
            proc.exited.then((code) => {
              throw new Error(`ssh -L exited with ${String(code)}: ${proc.output()}`);
            }),
          ]);
          return { proc, port: local };
        } catch (err) {
          proc.kill('SIGKILL');
          if (attempt === 4) throw err;
        }
      }
      throw new Error('ssh -L could not start');
    },
    async loginTrue() {
      const r = await runTracked(SSH, ['-p', String(sshdPort), ...options(), `${user}@127.0.0.1`, 'true'], 30_000);
      if (r.code !== 0) throw new Error(`ssh true failed (${String(r.code)}): ${r.output}`);
      return r.ms;
    },
  };
}
