/** `devicestreams device enroll-token` as an admin meets it: the token, its expiry, and the install command last. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from '../shared/http-json.js';
import { runCli as cli, sleep, spawnCli, startHub, stopAll, type HubHandle } from './harness.js';


let hub: HubHandle;
let env: Record<string, string>;

beforeAll(async () => {
  hub = await startHub();
  env = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile };
});
afterAll(stopAll);

describe('device enroll-token', () => {
  it('prints the token and its expiry, and the install command as its last line', async () => {
    const started = Date.now();
    const r = cli(['device', 'enroll-token', 'cli-pump', '--tag', 'site=plant-2', '--service', 'shell', '--map', 'ssh=127.0.0.1:22', '--ttl', '30m'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    const token = /^ {2}(ds1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43})$/m.exec(r.out)?.[1] ?? '';
    expect(token).not.toBe('');
    const expires = /until (\S+Z) \(30 min\)/.exec(lines[0] ?? '')?.[1] ?? '';
    expect(Date.parse(expires) - started).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    expect(Date.parse(expires) - started).toBeLessThanOrEqual(30 * 60_000 + 30_000);
    expect(r.out).toMatch(/^tags: site=plant-2$/m);
    expect(r.out).toMatch(/^services: shell, ssh=127\.0\.0\.1:22$/m);
    const last = lines.at(-1) ?? '';
    expect(last).toMatch(/^sh -c 'd=\$\(mktemp -d\) && curl /);
    expect(last).toContain(`${hub.url}/install.sh`);
    expect(last).toContain(`--token ${token}`);
    expect(last).toMatch(/--ca-sha256 [0-9a-f]{64}/);
    // The printed token is the real thing.
    const answer = await postJson(`${hub.url}/enroll`, {}, { token }, { ca: hub.ca });
    expect(answer).toMatchObject({ deviceId: 'cli-pump', maps: ['shell', 'ssh=127.0.0.1:22'], tags: { site: 'plant-2' } });
    // Once its agent has said hello, device show names it.
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', 'echo=127.0.0.1:9'], { DEVICE_CONNECTION_STRING: (answer as { connectionString: string }).connectionString });
    await agent.waitFor(/connected to the hub/);
    let shown = '';
    for (let i = 0; i < 50 && !/ agent /.test(shown); i++) {
      await sleep(100);
      shown = cli(['device', 'show', 'cli-pump'], env).out;
    }
    expect(shown).toMatch(/^cli-pump\s+enabled\s+online\s+last activity \S+ agent devicestreams-agent\/\d+\.\d+\.\d+\n$/);
  });

  it('makes a pattern token whose command enrolls under the host name, and answers --json', () => {
    const r = cli(['device', 'enroll-token', 'cli-sensor-*', '--json'], env);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.out) as { pattern: boolean; installCommand: string; maps: string[] };
    expect(t).toMatchObject({ pattern: true, maps: [] });
    expect(t.installCommand).toContain('--name-from-hostname');
  });

  it.each([
    [['--map', 'ssh=127.0.0.1'], /^devicestreams device: --map: service "ssh=127\.0\.0\.1" needs HOST:PORT after the =/],
    [['--map', 'ssh=127.0.0.1:0'], /--map: service "ssh=127\.0\.0\.1:0" needs a port from 1 to 65535/],
    [['--map', 'shell=127.0.0.1:22'], /--map: service "shell=127\.0\.0\.1:22" maps "shell", which is the kit's own shell server/],
    [['--service', 'ssh'], /--service "ssh": the kit's services are shell and files/],
    [['--service', 'shell', '--service', 'shell'], /service "shell" is given twice/],
    [['--ttl', '2d'], /--ttl: TTL "2d" must be a duration like 90s, 30m, 1h or 1h30m/],
    [['--ttl', '25h'], /--ttl: TTL "25h" is longer than 24 h/],
    [['--ttl', '0'], /--ttl: TTL "0" must be a duration/],
    [['--tag', 'site'], /--tag: tag "site" must be KEY=VALUE/],
  ])('refuses %j with one line and exit code 2, before asking the hub', (flags, message) => {
    // No credentials: the flags are checked first.
    const r = cli(['device', 'enroll-token', 'cli-bad', ...flags], { IOTHUB_CONNECTION_STRING: '' });
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err.trim()).toMatch(message);
    expect(r.out).toBe('');
  });

  it('says what the hub refuses, and keeps the flags to their action', () => {
    const taken = cli(['device', 'enroll-token', 'a b'], env);
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(/invalid field "target"/);
    expect(cli(['device', 'list', '--ttl', '1h'], env).err).toMatch(/--tag, --map, --service and --ttl belong to device enroll-token/);
    const help = cli(['device', '--help']);
    expect(help.out).toMatch(/enroll-token ID\|PATTERN/);
    expect(help.out).toMatch(/--ttl DURATION/);
  });
});
