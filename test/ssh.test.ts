/**
 * A real OpenSSH client through `devicestreams proxy`, to a private sshd on the device side:
 * hub, agent (mapping "ssh" to the sshd) and proxy run as real processes over real TLS; the sshd
 * has its own host key, an authorized_keys for a freshly generated client key, and listens on a
 * free loopback port. ssh runs a command, scp copies 1 MiB up, and `cat` brings it back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startHub, startProxy, stopAll, type HubHandle } from './harness.js';
import { SCP, SSH, SSH_KEYGEN, run, startPrivateSshd, type PrivateSshd } from './sshd.js';

let hub: HubHandle;
let sshd: PrivateSshd;
let proxyPort: number;

function sshOptions(): string[] {
  return sshd.options();
}

function ssh(command: string): ReturnType<typeof run> {
  return run(SSH, ['-p', String(proxyPort), ...sshOptions(), `${sshd.user}@127.0.0.1`, command]);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeAll(async () => {
  sshd = await startPrivateSshd();
  hub = await startHub();
  await startAgent(hub, 'ssh-dev', [`ssh=127.0.0.1:${sshd.port}`]);
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
    const local = join(sshd.dir, 'upload.bin');
    const remote = join(sshd.dir, 'on-device.bin');
    writeFileSync(local, data);

    const up = await run(SCP, ['-P', String(proxyPort), ...sshOptions(), '-q', local, `${sshd.user}@127.0.0.1:${remote}`], 60_000);
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
    const otherKey = join(sshd.dir, 'stranger_ed25519');
    expect((await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey])).code).toBe(0);
    const opts = sshOptions();
    opts[opts.indexOf(sshd.clientKey)] = otherKey;
    const r = await run(SSH, ['-p', String(proxyPort), ...opts, `${sshd.user}@127.0.0.1`, 'true']);
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
