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
import type { StreamLogEntry } from '../server/sdk/service-client.js';
import { startAgent, startHub, startProxy, stopAll, type HubHandle, type Proc } from './harness.js';
import { SCP, SSH, SSH_KEYGEN, run, startPrivateSshd, type PrivateSshd } from './sshd.js';
import { until } from './fixtures/fault-helpers.js';

const KIB = 1024;

let hub: HubHandle;
let sshd: PrivateSshd;
let proxy: Proc;
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
  ({ proc: proxy, port: proxyPort } = await startProxy(hub, 'ssh-dev', 'ssh'));
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

  it("gives each ssh connection a new stream of its own: three at once make exactly three new ids, each carrying its own connection's output", async () => {
    const before = new Set((await hub.service.listStreams({ deviceId: 'ssh-dev', limit: 1000 })).streams.map((x) => x.streamId));
    const from = proxy.output().length;
    // Each connection prints a different amount, 256 KiB apart, so its stream is the one record
    // whose bytes from the device are that amount plus SSH's own share (key exchange, login,
    // packet headers and MACs: a few KiB, well under OVERHEAD).
    const OVERHEAD = 64 * KIB;
    const sizes = [64 * KIB, 320 * KIB, 576 * KIB];
    const results = await Promise.all(sizes.map((n) => ssh(`head -c ${n} /dev/zero`)));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBe(sizes[i]);
    });

    // The proxy names the stream it opened for each connection: one new id per connection.
    const ids = [...proxy.output().slice(from).matchAll(/: stream (\S+) open to ssh-dev\/ssh/g)].map((m) => m[1] as string);
    expect(ids).toHaveLength(sizes.length);
    expect(new Set(ids).size).toBe(sizes.length);
    for (const id of ids) expect(before.has(id), `${id} is new`).toBe(false);
    const records = await Promise.all(
      ids.map((id) =>
        until(`stream ${id} to be ended in the log`, async (): Promise<StreamLogEntry | undefined> => {
          const r = await hub.service.getStream(id);
          return r.state === 'ended' ? r : undefined;
        }, 10_000),
      ),
    );
    for (const r of records) expect(r).toMatchObject({ deviceId: 'ssh-dev', streamName: 'ssh', result: 'accepted', state: 'ended' });
    console.log(`ssh: new streams carried ${records.map((r) => `${r.bytesFromDevice} bytes from the device, ${r.bytesToDevice} to it`).join('; ')}`);
    // Each connection's output is in exactly one of these records.
    for (const n of sizes) {
      const own = records.filter((r) => r.bytesFromDevice >= n && r.bytesFromDevice < n + OVERHEAD);
      expect(own.map((r) => r.bytesFromDevice), `the record of the connection that printed ${n} bytes`).toHaveLength(1);
    }
    // And the log gained exactly these streams.
    const added = (await hub.service.listStreams({ deviceId: 'ssh-dev', limit: 1000 })).streams.filter((x) => !before.has(x.streamId)).map((x) => x.streamId);
    expect(added.sort()).toEqual([...ids].sort());
  });
});
