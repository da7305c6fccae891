/** The command line as a user meets it: help, one-line errors, exit codes, no keys unless asked. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as cli, spawnCli, startHub, stopAll, type HubHandle } from './harness.js';


let hub: HubHandle;
let env: Record<string, string>;

beforeAll(async () => {
  hub = await startHub();
  env = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile };
});

afterAll(stopAll);

describe('devicestreams CLI', () => {
  it('has --help for every command, prints its release with --version, and says what is wrong in one line', () => {
    for (const cmd of ['hub', 'device', 'agent', 'proxy', 'stream', 'streams', 'policy', 'operator', 'shell-server', 'file-server', 'cp']) {
      const r = cli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.out, cmd).toMatch(new RegExp(`Usage: devicestreams ${cmd}`));
    }
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V', 'version']) expect(cli([flag]), flag).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    const unknown = cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err.trim().split('\n')).toHaveLength(1);
    const badFlag = cli(['device', 'list', '--nope'], env);
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toMatch(/--nope/);
    const noCs = cli(['device', 'list'], { IOTHUB_CONNECTION_STRING: '' });
    expect(noCs.code).toBe(2);
    expect(noCs.err).toMatch(/IOTHUB_CONNECTION_STRING/);
    const badBackoff = cli(['agent', '--connection-string', 'HostName=h;DeviceId=d;SharedAccessKey=a2V5', '--map', 'ssh=127.0.0.1:22', '--max-backoff', '0']);
    expect(badBackoff.code).toBe(2);
    expect(badBackoff.err.trim()).toMatch(/--max-backoff must be a number from 1 to 3600/);
  });

  it('manages devices without printing keys unless asked', () => {
    expect(cli(['device', 'create', 'cli-dev'], env)).toMatchObject({ code: 0 });
    const list = cli(['device', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const devices = JSON.parse(list.out) as Array<Record<string, unknown>>;
    expect(devices.find((d) => d.deviceId === 'cli-dev')).toMatchObject({ status: 'enabled', connectionState: 'Disconnected' });
    expect(list.out).not.toMatch(/primaryKey|SharedAccessKey/);
    expect(cli(['device', 'show', 'cli-dev', '--json', '--show-keys'], env).out).toMatch(/primaryKey/);
    const cs = cli(['device', 'connection-string', 'cli-dev'], env);
    expect(cs.out).toMatch(/^HostName=[^;]+;DeviceId=cli-dev;SharedAccessKey=[A-Za-z0-9+/=]+\n$/);
    const missing = cli(['device', 'show', 'nobody'], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/device "nobody" is not in the registry; see devicestreams device list \(404001\)/);
    expect(cli(['device', 'disable', 'cli-dev'], env).out).toMatch(/disabled/);
    expect(cli(['device', 'delete', 'cli-dev'], env)).toMatchObject({ code: 0 });
  });

  it('prints policy connection strings and manages console accounts from the data directory', () => {
    const cs = cli(['policy', 'connection-string', 'iothubowner', '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host]);
    expect(cs.out.trim()).toBe(hub.ownerCs);
    const added = cli(['operator', 'add', 'carol', '--role', 'viewer', '--data-dir', hub.dataDir]);
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/password for carol: \S{12,}/);
    expect(cli(['operator', 'list', '--data-dir', hub.dataDir]).out).toMatch(/carol\s+viewer/);
    expect(cli(['operator', 'add', 'carol', '--data-dir', hub.dataDir]).code).toBe(1);
    expect(cli(['operator', 'set-role', 'carol', '--role', 'root', '--data-dir', hub.dataDir]).code).toBe(2);
    expect(cli(['operator', 'delete', 'carol', '--data-dir', hub.dataDir]).code).toBe(0);
  });

  it('proxy refuses at start a device the registry does not have, starts for a disabled one saying so, and starts when its policy cannot read the registry', async () => {
    const missing = cli(['proxy', '--device', 'nobody', '--stream', 'http', '--listen', '127.0.0.1:0'], env);
    expect(missing.code).toBe(1);
    expect(missing.err.trim()).toBe('devicestreams proxy: device "nobody" is not in the registry (404001)');
    expect(missing.out).toBe('');
    expect(cli(['device', 'create', 'cli-off'], env).code).toBe(0);
    expect(cli(['device', 'disable', 'cli-off'], env).code).toBe(0);
    const disabled = spawnCli(['proxy', '--device', 'cli-off', '--stream', 'http', '--listen', '127.0.0.1:0'], env);
    await disabled.waitFor(/LISTENING 127\.0\.0\.1:\d+/);
    expect(disabled.output()).toMatch(/device cli-off is disabled: its streams are refused until it is enabled/);
    disabled.kill('SIGTERM');
    // The service policy may open streams but not read the registry: the proxy cannot look, and starts.
    const serviceCs = cli(['policy', 'connection-string', 'service', '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host]).out.trim();
    const blind = spawnCli(['proxy', '--device', 'nobody', '--stream', 'http', '--listen', '127.0.0.1:0'], { ...env, IOTHUB_CONNECTION_STRING: serviceCs });
    await blind.waitFor(/LISTENING 127\.0\.0\.1:\d+/);
    expect(blind.output()).not.toMatch(/could not look up|404001/);
    blind.kill('SIGTERM');
  });

  it('reports an unreachable stream target as the device said it', () => {
    const r = cli(['stream', 'nobody', '--name', 'x', '--connect-timeout', '0'], env);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/404001/);
  });
});
