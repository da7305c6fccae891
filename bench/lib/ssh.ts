/**
 * The comparison peer: the tests' private OpenSSH server (test/sshd.ts) with TCP forwarding
 * allowed, and the client commands the benchmarks time: `ssh -L` tunnels and `ssh host true`.
 */
import { spawnProc, type Proc } from '../../test/harness.js';
import { SSH, sshMissing, startPrivateSshd } from '../../test/sshd.js';
import { freePort, runTracked, waitForPort } from './util.js';

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

export function sshAvailable(): string | undefined {
  return sshMissing();
}

export async function startSshPeer(): Promise<SshPeer> {
  const peer = await startPrivateSshd({ allowTcpForwarding: 'local', extraConfig: ['MaxStartups 200:30:400', 'MaxSessions 100'] });
  const { proc: sshd, port: sshdPort, user, clientKey, options } = peer;

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
