/**
 * Who can reach the device's shell server: by default only its own account, over a Unix socket in
 * a private directory; TCP only when asked for in so many words; shells as an unprivileged account
 * with that account's groups only. Real CLI processes, real accounts (`nobody`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FrameDecoder, TERMINAL_PROTOCOL_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { spawnCli, stopAll, tempDir } from './harness.js';
import { until } from './console-client.js';

afterAll(stopAll);

const BASH = ['--shell', '/bin/bash', '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', 'PS1=$ '];

/** Runs `command` in a shell of the server at `path`; resolves with what the shell printed. */
async function runInShell(path: string, command: string): Promise<string> {
  const sock = connect({ path });
  const decoder = new FrameDecoder();
  let out = '';
  sock.on('data', (d: Buffer) => {
    for (const f of decoder.push(new Uint8Array(d))) if (f.type === 'data') out += Buffer.from(f.data).toString('utf8');
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  sock.write(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, cols: 200, rows: 24, term: 'xterm' }));
  sock.write(encodeFrame({ type: 'data', data: new TextEncoder().encode(`${command}; echo DONE-$((40+2))\n`) }));
  await until(() => /DONE-42/.test(out), 10_000, 'command output');
  sock.destroy();
  return out;
}

describe('shell server access', () => {
  it('listens on a 0600 socket in a 0700 directory that another local account cannot connect to', async () => {
    const path = join(tempDir('ds-sock-'), 'run', 'shell.sock');
    const proc = spawnCli(['shell-server', '--listen', `unix:${path}`, ...BASH]);
    await proc.waitFor(/LISTENING unix:/);
    expect((statSync(join(path, '..')).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    expect(await runInShell(path, 'echo reached')).toMatch(/reached/);
    const probe = `require('net').connect(${JSON.stringify(path)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(1)})`;
    const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', probe], { encoding: 'utf8' });
    expect(asNobody.stdout.trim()).toBe('EACCES');
  });

  it('refuses a socket directory other accounts can enter, and a TCP port unless --insecure-tcp is given', async () => {
    const open = join(tempDir('ds-sock-'), 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const refused = spawnCli(['shell-server', '--listen', `unix:${join(open, 'shell.sock')}`, ...BASH]);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(/has mode 755: other users could reach the socket \(chmod 700 /);
    const tcp = spawnCli(['shell-server', '--listen', '127.0.0.1:0', ...BASH]);
    expect(await tcp.exited).toBe(2);
    expect(tcp.output()).toMatch(/a TCP port lets any local user open a shell; use --listen unix:PATH, or add --insecure-tcp/);
    const allowed = spawnCli(['shell-server', '--listen', '127.0.0.1:0', '--insecure-tcp', ...BASH]);
    await allowed.waitFor(/LISTENING 127\.0\.0\.1:\d+/);
    expect(allowed.output()).toMatch(/any local user who connects gets a shell/);
  });

  it('replaces a socket left by a dead server, refuses one a live server holds, and never replaces a plain file', async () => {
    const dir = join(tempDir('ds-sock-'), 'run');
    const path = join(dir, 'shell.sock');
    const first = spawnCli(['shell-server', '--listen', `unix:${path}`, ...BASH]);
    await first.waitFor(/LISTENING unix:/);
    const second = spawnCli(['shell-server', '--listen', `unix:${path}`, ...BASH]);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/in use by a running shell server/);
    first.kill('SIGKILL');
    await first.exited;
    const third = spawnCli(['shell-server', '--listen', `unix:${path}`, ...BASH]);
    await third.waitFor(/LISTENING unix:/);
    expect(await runInShell(path, 'echo again')).toMatch(/again/);
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    const fourth = spawnCli(['shell-server', '--listen', `unix:${file}`, ...BASH]);
    expect(await fourth.exited).toBe(1);
    expect(fourth.output()).toMatch(/a file that is not a socket is in the way/);
  });

  it('starts shells as --user with that account\'s ids, home and groups only', async () => {
    const path = join(tempDir('ds-sock-'), 'run', 'shell.sock');
    const proc = spawnCli(['shell-server', '--listen', `unix:${path}`, '--user', 'nobody', ...BASH]);
    await proc.waitFor(/LISTENING unix:/);
    expect(proc.output()).toMatch(/as nobody/);
    const nobody = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim();
    const out = await runInShell(path, 'echo "uid=$(id -u) euid=$(id -ru) groups=$(id -G) home=$HOME user=$USER"');
    const m = /uid=(\d+) euid=(\d+) groups=([\d ]+) home=(\S+) user=(\S+)/.exec(out);
    expect(m?.slice(1, 3)).toEqual([nobody, nobody]);
    expect((m?.[3] ?? '').split(' ')).not.toContain('0');
    expect(m?.[5]).toBe('nobody');
    const refused = spawnCli(['shell-server', '--listen', `unix:${path}2`, '--user', 'no-such-account-here', ...BASH]);
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toMatch(/--user no-such-account-here: there is no user "no-such-account-here"/);
  });
});
