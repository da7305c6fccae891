/** `devicestreams device …` — registry administration over the hub's REST API. */
import type { DeviceDescription } from '../../server/sdk/service-client.js';
import { CliError, parse } from '../args.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, serviceClientFromFlags } from '../service-flags.js';
import { ENROLL_TOKEN_FLAGS, ENROLL_TOKEN_HELP, enrollToken, hasEnrollTokenFlags, tokenRequest } from './enroll-token.js';

const HELP = `
Usage: devicestreams device <create ID | list | show ID | delete ID | connection-string ID | enroll-token ID> [options]

Manages devices in the hub's registry.

  create ID             register a device (enabled; keys generated)
  list                  list devices with their connection state
  show ID               one device
  enable ID | disable ID
                        allow or refuse the device's connections (disabling drops it at once)
  delete ID             remove a device (its connection is closed at once)
  connection-string ID  print the device connection string (contains its key)
${ENROLL_TOKEN_HELP}

Options:
${SERVICE_FLAGS_HELP}
  --json                      machine-readable output (keys left out unless --show-keys)
  --show-keys                 include the device keys in show/list/create output
  -h, --help                  this help

Examples:
  devicestreams device create pump-17
  DEVICE_CONNECTION_STRING="$(devicestreams device connection-string pump-17)" devicestreams agent --map ssh=127.0.0.1:22
  devicestreams device enroll-token 'sensor-*' --tag site=plant-2 --service shell --map ssh=127.0.0.1:22 --ttl 30m
`;

function withoutKeys(d: DeviceDescription, showKeys: boolean): Record<string, unknown> {
  if (showKeys) return d;
  const { authentication: _omit, ...rest } = d;
  return rest;
}

function line(d: DeviceDescription): string {
  const seen = d.lastActivityTime.startsWith('0001') ? 'never' : d.lastActivityTime;
  const agent = typeof d.agent === 'string' ? ` agent ${d.agent}` : '';
  return `${d.deviceId.padEnd(24)} ${d.status.padEnd(9)} ${(d.connectionState === 'Connected' ? 'online' : 'offline').padEnd(8)} last activity ${seen}${agent}`;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...SERVICE_FLAGS,
    json: { type: 'boolean' },
    'show-keys': { type: 'boolean' },
    ...ENROLL_TOKEN_FLAGS,
  }, HELP);
  const [action, id, ...extra] = positionals;
  if (action === undefined) throw new CliError('name an action: create, list, show, enable, disable, delete, connection-string or enroll-token (see --help)', 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const needsId = action !== 'list';
  if (needsId && id === undefined) throw new CliError(`device ${action} needs a device id${action === 'enroll-token' ? ' or a pattern such as sensor-*' : ''}`, 2);
  if (action !== 'enroll-token' && hasEnrollTokenFlags(values)) throw new CliError('--tag, --map, --service and --ttl belong to device enroll-token', 2);
  // Checked before the hub is asked anything, so a mistyped flag is named first.
  const spec = action === 'enroll-token' ? tokenRequest(id as string, values) : undefined;
  const service = serviceClientFromFlags(values);
  const json = values.json === true;
  const keys = values['show-keys'] === true;
  const out = (v: unknown): void => {
    process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  };
  const deviceId = id as string;
  switch (action) {
    case 'create': {
      const d = await service.createDevice(deviceId);
      if (json) out(withoutKeys(d, keys));
      else process.stdout.write(`created device ${d.deviceId}\nits connection string: devicestreams device connection-string ${d.deviceId}\n`);
      return;
    }
    case 'list': {
      const list = await service.listDevices();
      if (json) out(list.map((d) => withoutKeys(d, keys)));
      else if (list.length === 0) process.stdout.write('no devices yet; create one with: devicestreams device create ID\n');
      else for (const d of list) process.stdout.write(`${line(d)}\n`);
      return;
    }
    case 'show': {
      const d = await service.getDevice(deviceId);
      if (json) out(withoutKeys(d, keys));
      else process.stdout.write(`${line(d)}\n`);
      return;
    }
    case 'enable':
    case 'disable': {
      const d = await service.updateDevice(deviceId, { status: action === 'enable' ? 'enabled' : 'disabled' });
      if (json) out(withoutKeys(d, keys));
      else process.stdout.write(`device ${d.deviceId} ${d.status}\n`);
      return;
    }
    case 'delete':
      await service.deleteDevice(deviceId);
      if (json) out({ deviceId, deleted: true });
      else process.stdout.write(`deleted device ${deviceId}\n`);
      return;
    case 'connection-string': {
      const cs = await service.deviceConnectionString(deviceId);
      if (json) out({ deviceId, connectionString: cs });
      else process.stdout.write(`${cs}\n`);
      return;
    }
    case 'enroll-token':
      if (spec !== undefined) await enrollToken(service, spec, json);
      return;
    default:
      throw new CliError(`unknown action "${action}": use create, list, show, enable, disable, delete, connection-string or enroll-token`, 2);
  }
}
