/**
 * `devicestreams device` against a real hub with a fleet larger than one page of the registry:
 * listing all of it, its filters, its argument checks, keys in text output, and messages in the
 * command line's words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as cli, startAgent, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let env: Record<string, string>;
/** More than the 1,000 devices the hub gives in one page. */
const FLEET = 1507;
const ids = Array.from({ length: FLEET }, (_, i) => `fleet-${String(i).padStart(5, '0')}`);

beforeAll(async () => {
  hub = await startHub();
  env = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile };
  for (let i = 0; i < FLEET; i += 20) await Promise.all(ids.slice(i, i + 20).map((id) => hub.service.createDevice(id)));
  await hub.service.updateDevice('fleet-00007', { status: 'disabled' });
  await startAgent(hub, 'fleet-00042', []);
}, 180_000);

afterAll(stopAll);

/** The device ids at the start of each line of `device list`'s text output. */
function listedIds(out: string): string[] {
  return out.trimEnd().split('\n').map((l) => l.split(' ')[0] ?? '');
}

describe('devicestreams device', () => {
  it('device list writes all 1,507 devices (more than one page of 1,000), in id order, as text lines and as one JSON array', () => {
    const text = cli(['device', 'list'], env);
    expect(text.code).toBe(0);
    expect(listedIds(text.out)).toEqual(ids);
    const json = cli(['device', 'list', '--json'], env);
    expect(json.code).toBe(0);
    const devices = JSON.parse(json.out) as Array<{ deviceId: string }>;
    expect(devices.map((d) => d.deviceId)).toEqual(ids);
    // Written element by element, it is still the text JSON.stringify gives the whole array.
    expect(json.out).toBe(`${JSON.stringify(devices, null, 2)}\n`);
    expect(json.out).not.toMatch(/primaryKey/);
  });

  it('device list --search, --online/--offline and --enabled/--disabled filter on the hub, and say "no devices match" with the filters when none does', () => {
    const search = cli(['device', 'list', '--search', 'FLEET-0012'], env);
    expect(search.code).toBe(0);
    expect(listedIds(search.out)).toEqual(ids.filter((id) => id.startsWith('fleet-0012')));
    expect(listedIds(cli(['device', 'list', '--disabled'], env).out)).toEqual(['fleet-00007']);
    expect(listedIds(cli(['device', 'list', '--enabled', '--search', 'fleet-0000'], env).out)).toEqual(ids.slice(0, 10).filter((id) => id !== 'fleet-00007'));
    expect(listedIds(cli(['device', 'list', '--online'], env).out)).toEqual(['fleet-00042']);
    expect(listedIds(cli(['device', 'list', '--offline', '--search', 'fleet-0004'], env).out)).toEqual(ids.slice(40, 50).filter((id) => id !== 'fleet-00042'));
    const json = cli(['device', 'list', '--json', '--online'], env);
    expect((JSON.parse(json.out) as Array<{ deviceId: string }>).map((d) => d.deviceId)).toEqual(['fleet-00042']);
    // The offline devices are every other one, across both pages.
    expect(listedIds(cli(['device', 'list', '--offline'], env).out)).toHaveLength(FLEET - 1);
    const none = cli(['device', 'list', '--search', 'zz', '--online'], env);
    expect(none).toMatchObject({ code: 0, out: 'no devices match --search "zz" --online\n' });
    expect(cli(['device', 'list', '--search', 'zz', '--json'], env)).toMatchObject({ code: 0, out: '[]\n' });
    const both = cli(['device', 'list', '--online', '--offline'], env);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--online and --offline contradict each other/);
    expect(cli(['device', 'list', '--enabled', '--disabled'], env).code).toBe(2);
    const notList = cli(['device', 'show', 'fleet-00001', '--online'], env);
    expect(notList.code).toBe(2);
    expect(notList.err).toMatch(/belong to device list/);
    const help = cli(['device', '--help']);
    for (const flag of ['--search TEXT', '--online | --offline', '--enabled | --disabled']) expect(help.out).toContain(flag);
  });

  it('device list with an extra argument exits 2 saying list takes no device id, and prints nothing', () => {
    const r = cli(['device', 'list', 'pump-17'], env);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err.trim()).toBe('devicestreams device: device list takes no device id ("pump-17"); to find devices by id: devicestreams device list --search TEXT, or devicestreams device show ID');
  });

  it('--show-keys without --json prints the primary and secondary key under the device\'s line (create, show, list, disable), and says so when the policy may not read keys', async () => {
    const created = cli(['device', 'create', 'keys-dev', '--show-keys'], env);
    expect(created.code).toBe(0);
    const k = (await hub.service.getDevice('keys-dev')).authentication.symmetricKey;
    const keyLines = `  primary key   ${k.primaryKey}\n  secondary key ${k.secondaryKey}\n`;
    expect(created.out).toBe(`created device keys-dev\n${keyLines}its connection string: devicestreams device connection-string keys-dev\n`);
    const shown = cli(['device', 'show', 'keys-dev', '--show-keys'], env);
    expect(shown.out).toMatch(/^keys-dev\s+enabled\s+offline\s+last activity never\n/);
    expect(shown.out.slice(shown.out.indexOf('\n') + 1)).toBe(keyLines);
    const listed = cli(['device', 'list', '--search', 'keys-dev', '--show-keys'], env);
    expect(listed.out.slice(listed.out.indexOf('\n') + 1)).toBe(keyLines);
    expect(cli(['device', 'disable', 'keys-dev', '--show-keys'], env).out).toBe(`device keys-dev disabled\n${keyLines}`);
    // Without the flag, no key anywhere.
    for (const args of [['show', 'keys-dev'], ['list', '--search', 'keys-dev'], ['enable', 'keys-dev']]) {
      const r = cli(['device', ...args], env);
      expect(r.out, args.join(' ')).not.toContain(k.primaryKey);
      expect(r.out, args.join(' ')).not.toMatch(/primary key|secondary key/);
    }
    // The console's policy may list devices but not read their keys.
    const consoleCs = cli(['policy', 'connection-string', 'console', '--data-dir', hub.dataDir, '--host-name', new URL(hub.url).host]).out.trim();
    const blind = cli(['device', 'show', 'keys-dev', '--show-keys'], { ...env, IOTHUB_CONNECTION_STRING: consoleCs });
    expect(blind.code).toBe(0);
    expect(blind.out.slice(blind.out.indexOf('\n') + 1)).toBe('  keys: not given to this policy (it needs RegistryRead or RegistryWrite)\n');
    const elsewhere = cli(['device', 'delete', 'keys-dev', '--show-keys'], env);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.err).toMatch(/--show-keys belongs to device create, list, show, enable and disable/);
    expect(cli(['device', '--help']).out).toMatch(/--show-keys\s+with create, list, show, enable and disable: the device's primary\s+and secondary key, on two lines under its line/);
  });

  it('a device that exists or is missing is said in the command line\'s words with the code kept, and an empty or invalid id exits 2 without asking the hub', () => {
    const exists = cli(['device', 'create', 'fleet-00001'], env);
    expect(exists.code).toBe(1);
    expect(exists.err).toBe('devicestreams device: device "fleet-00001" already exists (409001)\n');
    for (const action of ['show', 'enable', 'disable', 'delete', 'connection-string']) {
      const missing = cli(['device', action, 'nosuch'], env);
      expect(missing.code, action).toBe(1);
      expect(missing.err, action).toBe('devicestreams device: device "nosuch" is not in the registry; see devicestreams device list (404001)\n');
    }
    // No connection string: these are refused before the hub would be asked.
    const empty = cli(['device', 'create', ''], { IOTHUB_CONNECTION_STRING: '' });
    expect(empty.code).toBe(2);
    expect(empty.err).toBe('devicestreams device: the device id is empty; give one such as pump-17\n');
    const invalid = cli(['device', 'show', 'pump 17'], { IOTHUB_CONNECTION_STRING: '' });
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/^devicestreams device: "pump 17" is not a device id: 1-128 letters, digits and/);
  });
});
