/** `devicestreams stream` — stdin/stdout through one stream, like netcat. */
import { createServiceClient } from '../../server/sdk/service-client.js';
import { CliError, hubConnectionString, numberFlag, parse, readCa } from '../args.js';

const HELP = `
Usage: devicestreams stream DEVICE-ID --name NAME [options]

Opens one stream to the device's NAME service and pipes stdin to it and its output to stdout.
Ends when the device side closes (or on Ctrl-C).

Options:
  --name NAME                 stream name (a mapping on the device's agent)
  --close-on-eof              end the stream when stdin ends (streams have no half-close, so
                              output still in flight after that point is lost)
  --hub-connection-string CS  service connection string (or IOTHUB_CONNECTION_STRING)
  --ca FILE                   CA that signed the hub's certificate (or DEVICESTREAMS_CA)
  --hub-url URL               hub base URL when it differs from https://HostName
  --connect-timeout SECS      wait this long for an offline device (default 10)
  --response-timeout SECS     wait this long for the device's answer (default 10)
  -h, --help                  this help

Example:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | devicestreams stream pump-17 --name http
`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    'close-on-eof': { type: 'boolean' },
    'hub-connection-string': { type: 'string' },
    ca: { type: 'string' },
    'hub-url': { type: 'string' },
    'connect-timeout': { type: 'string' },
    'response-timeout': { type: 'string' },
  }, HELP);
  const [deviceId, ...extra] = positionals;
  if (deviceId === undefined || values.name === undefined) throw new CliError('give a device id and --name NAME (see --help)', 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const service = createServiceClient(hubConnectionString(values['hub-connection-string']), { ca: readCa(values.ca), hubUrl: values['hub-url'] });
  const stream = await service.initiateStream(deviceId, values.name, {
    connectTimeoutSeconds: numberFlag(values['connect-timeout'], '--connect-timeout', 10, 0, 60),
    responseTimeoutSeconds: numberFlag(values['response-timeout'], '--response-timeout', 10, 0, 60),
  });
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.pipe(process.stdout);
    process.stdin.pipe(stream, { end: values['close-on-eof'] === true });
    process.once('SIGINT', () => stream.end());
  });
  process.stdin.destroy();
}
