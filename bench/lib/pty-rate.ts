/**
 * The terminal flood's ceiling on this machine: the flood command run on a bare PTY (the shell
 * server's own spawnPty, node-pty in byte mode) with its output counted and dropped — no network,
 * no TLS, no rendering. The kernel's PTY layer (line discipline, CR LF translation) is on every
 * path from a shell to a screen, so no console can show the output faster than this.
 */
import { spawnPty } from '../../device/shell/pty.js';
import { nowMs } from './util.js';

/** Runs `head -c raw /dev/urandom | base64` on a PTY; resolves with ms until `expected` bytes came. */
export function ptyTrial(raw: number, expected: number, cols: number, rows: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    // The trailing sleep keeps the PTY open until we have read everything (a PTY whose last
    // process exits may drop what is still unread); the trial ends at the last byte and kills it.
    const pty = spawnPty({ file: '/bin/sh', args: ['-c', `head -c ${raw} /dev/urandom | base64; exec sleep 30`], cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, term: 'xterm-256color', cols, rows });
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`bare PTY: ${got} of ${expected} bytes after ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      data.dispose();
      exit.dispose();
      try {
        process.kill(pty.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      if (err !== undefined) reject(err);
      else resolve(nowMs() - t0);
    };
    const data = pty.onData((d) => {
      got += d.length;
      if (got >= expected) finish();
    });
    // The output may still be draining after the exit; only a short count is an error.
    const exit = pty.onExit(() => setTimeout(() => { if (got < expected) finish(new Error(`bare PTY: the command exited after ${got} of ${expected} bytes`)); }, 2000));
  });
}
