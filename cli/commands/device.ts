/** `devicestreams device …` — registry administration over the hub's REST API. */
import { once } from 'node:events';
import type { DeviceDescription, DevicePageQuery, ServiceClient } from '../../server/sdk/service-client.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { CliError, parse } from '../args.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, deviceIdArg, serviceClientFromFlags } from '../service-flags.js';
import { ENROLL_TOKEN_FLAGS, ENROLL_TOKEN_HELP, enrollToken, hasEnrollTokenFlags, tokenRequest } from './enroll-token.js';

const HELP = `
Usage: devicestreams device <create ID | list | show ID | enable ID | disable ID | delete ID | connection-string ID | enroll-token ID> [options]

Manages devices in the hub's registry.

  create ID             register a device (enabled; keys generated)
  list                  list every device with its connection state, in id order (written page by
                        page as the hub gives them, so a fleet of any size lists whole)
    --search TEXT         only devices whose id contains TEXT (any case)
    --online | --offline  only devices connected to the hub now, or only those that are not
    --enabled | --disabled
                          only devices allowed to connect, or only those refused
  show ID               one device
  enable ID | disable ID
                        allow or refuse the device's connections (disabling drops it at once)
  delete ID             remove a device (its connection is closed at once)
  connection-string ID  print the device connection string (contains its key)
${ENROLL_TOKEN_HELP}

Options:
${SERVICE_FLAGS_HELP}
  --json                      machine-readable output (keys left out unless --show-keys); list
                              writes one JSON array
  --show-keys                 with create, list, show, enable and disable: the device's primary
                              and secondary key, on two lines under its line (with --json, in its
                              "authentication"); the policy must have RegistryRead or RegistryWrite
                              for the hub to give them
  -h, --help                  this help

Examples:
  devicestreams device create pump-17
  devicestreams device list --search pump --offline
  DEVICE_CONNECTION_STRING="$(devicestreams device connection-string pump-17)" devicestreams agent --map ssh=127.0.0.1:22
  devicestreams device enroll-token 'sensor-*' --tag site=plant-2 --service shell --map ssh=127.0.0.1:22 --ttl 30m
`;

const ACTIONS = new Set(['create', 'list', 'show', 'enable', 'disable', 'delete', 'connection-string', 'enroll-token']);
/** The actions that print a device, and so may print its keys. */
const SHOWS_DEVICE = new Set(['create', 'list', 'show', 'enable', 'disable']);

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

/** The two key lines printed under a device's line with --show-keys. */
function keyLines(d: DeviceDescription): string {
  const k = d.authentication?.symmetricKey as { primaryKey: string | null; secondaryKey: string | null } | undefined;
  if (typeof k?.primaryKey !== 'string' || typeof k.secondaryKey !== 'string') {
    return '  keys: not given to this policy (it needs RegistryRead or RegistryWrite)\n';
  }
  return `  primary key   ${k.primaryKey}\n  secondary key ${k.secondaryKey}\n`;
}

/** Writes to stdout, waiting while its buffer is full, so a long list is never held in memory whole. */
async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** `device list`: every page of the registry in turn, each device written as it comes. */
async function list(service: ServiceClient, query: DevicePageQuery, filters: string[], json: boolean, keys: boolean): Promise<void> {
  let count = 0;
  let continuation: string | undefined;
  do {
    const page = await service.listDevicePage({ ...query, continuation });
    for (const d of page.devices) {
      if (json) {
        // The same text JSON.stringify(all, null, 2) gives, one element at a time.
        await write(`${count === 0 ? '[\n' : ',\n'}  ${JSON.stringify(withoutKeys(d, keys), null, 2).replace(/\n/g, '\n  ')}`);
      } else {
        await write(`${line(d)}\n${keys ? keyLines(d) : ''}`);
      }
      count++;
    }
    continuation = page.continuation;
  } while (continuation !== undefined);
  if (json) await write(count === 0 ? '[]\n' : '\n]\n');
  else if (count === 0) await write(filters.length > 0 ? `no devices match ${filters.join(' ')}\n` : 'no devices yet; create one with: devicestreams device create ID\n');
}

/** The list filters the flags ask for, and how to name them back to the user. */
function listQuery(values: { search?: string | undefined; online?: boolean | undefined; offline?: boolean | undefined; enabled?: boolean | undefined; disabled?: boolean | undefined }): { query: DevicePageQuery; filters: string[] } {
  if (values.online === true && values.offline === true) throw new CliError('--online and --offline contradict each other', 2);
  if (values.enabled === true && values.disabled === true) throw new CliError('--enabled and --disabled contradict each other', 2);
  const search = values.search;
  if (search !== undefined && (search === '' || search.length > 128)) throw new CliError('--search takes part of a device id: 1-128 characters', 2);
  const query: DevicePageQuery = {
    search,
    connectionState: values.online === true ? 'Connected' : values.offline === true ? 'Disconnected' : undefined,
    status: values.enabled === true ? 'enabled' : values.disabled === true ? 'disabled' : undefined,
  };
  const filters = [
    ...(search === undefined ? [] : [`--search ${JSON.stringify(search)}`]),
    ...(['online', 'offline', 'enabled', 'disabled'] as const).filter((f) => values[f] === true).map((f) => `--${f}`),
  ];
  return { query, filters };
}

/**
 * The hub's words are for REST clients ("update it with If-Match"); the two a registry command
 * meets every day are said in the command line's terms, with the code kept.
 */
function inCliTerms(err: unknown, deviceId: string): unknown {
  if (!(err instanceof DsError)) return err;
  if (err.code === ErrorCode.DeviceAlreadyExists) return new DsError(err.code, `device "${deviceId}" already exists`);
  if (err.code === ErrorCode.DeviceNotFound) return new DsError(err.code, `device "${deviceId}" is not in the registry; see devicestreams device list`);
  return err;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...SERVICE_FLAGS,
    json: { type: 'boolean' },
    'show-keys': { type: 'boolean' },
    search: { type: 'string' },
    online: { type: 'boolean' },
    offline: { type: 'boolean' },
    enabled: { type: 'boolean' },
    disabled: { type: 'boolean' },
    ...ENROLL_TOKEN_FLAGS,
  }, HELP);
  const [action, id, ...extra] = positionals;
  if (action === undefined) throw new CliError('name an action: create, list, show, enable, disable, delete, connection-string or enroll-token (see --help)', 2);
  if (!ACTIONS.has(action)) throw new CliError(`unknown action "${action}": use create, list, show, enable, disable, delete, connection-string or enroll-token`, 2);
  if (action === 'list' && id !== undefined) throw new CliError(`device list takes no device id ("${id}"); to find devices by id: devicestreams device list --search TEXT, or devicestreams device show ID`, 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const needsId = action !== 'list';
  if (needsId && id === undefined) throw new CliError(`device ${action} needs a device id${action === 'enroll-token' ? ' or a pattern such as sensor-*' : ''}`, 2);
  if (action !== 'enroll-token' && hasEnrollTokenFlags(values)) throw new CliError('--tag, --map, --service and --ttl belong to device enroll-token', 2);
  const { query, filters } = listQuery(values);
  if (action !== 'list' && filters.length > 0) throw new CliError('--search, --online, --offline, --enabled and --disabled belong to device list', 2);
  const keys = values['show-keys'] === true;
  if (keys && !SHOWS_DEVICE.has(action)) throw new CliError('--show-keys belongs to device create, list, show, enable and disable (connection-string prints the key itself)', 2);
  // Checked before the hub is asked anything, so a mistyped flag or id is named first.
  const spec = action === 'enroll-token' ? tokenRequest(id as string, values) : undefined;
  const deviceId = needsId && action !== 'enroll-token' ? deviceIdArg(id as string) : (id ?? '');
  const service = serviceClientFromFlags(values);
  const json = values.json === true;
  const out = (v: unknown): void => {
    process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  };
  const text = (first: string, d: DeviceDescription, last = ''): void => {
    process.stdout.write(`${first}\n${keys ? keyLines(d) : ''}${last}`);
  };
  try {
    switch (action) {
      case 'create': {
        const d = await service.createDevice(deviceId);
        if (json) out(withoutKeys(d, keys));
        else text(`created device ${d.deviceId}`, d, `its connection string: devicestreams device connection-string ${d.deviceId}\n`);
        return;
      }
      case 'list':
        await list(service, query, filters, json, keys);
        return;
      case 'show': {
        const d = await service.getDevice(deviceId);
        if (json) out(withoutKeys(d, keys));
        else text(line(d), d);
        return;
      }
      case 'enable':
      case 'disable': {
        const d = await service.updateDevice(deviceId, { status: action === 'enable' ? 'enabled' : 'disabled' });
        if (json) out(withoutKeys(d, keys));
        else text(`device ${d.deviceId} ${d.status}`, d);
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
        return; // ACTIONS holds no other
    }
  } catch (err) {
    throw action === 'list' || action === 'enroll-token' ? err : inCliTerms(err, deviceId);
  }
}
