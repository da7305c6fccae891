/** `devicestreams stream` — stdin/stdout through one stream, like netcat. */
import { CliError, parse } from '../args.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, STREAM_TIMEOUT_FLAGS, STREAM_TIMEOUT_FLAGS_HELP, serviceClientFromFlags, streamTimeouts } from '../service-flags.js';

const HELP = `
Usage: devicestreams stream DEVICE-ID --name NAME [options]

Opens one stream to the device's NAME service and pipes stdin to it and its output to stdout.
Ends when the device side closes (or on Ctrl-C).

Options:
  --name NAME                 stream name (a mapping on the device's agent)
  --close-on-eof              end the stream when stdin ends (streams have no half-close, so
                              output still in flight after that point is lost)
${SERVICE_FLAGS_HELP}
${STREAM_TIMEOUT_FLAGS_HELP}
  -h, --help                  this help

Example:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | devicestreams stream pump-17 --name http
`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    'close-on-eof': { type: 'boolean' },
    ...SERVICE_FLAGS,
    ...STREAM_TIMEOUT_FLAGS,
  }, HELP);
  const [deviceId, ...extra] = positionals;
  if (deviceId === undefined || values.name === undefined) throw new CliError('give a device id and --name NAME (see --help)', 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const service = serviceClientFromFlags(values);
  const stream = await service.initiateStream(deviceId, values.name, streamTimeouts(values));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.pipe(process.stdout);
    process.stdin.pipe(stream, { end: values['close-on-eof'] === true });
    process.once('SIGINT', () => stream.end());
  });
  process.stdin.destroy();
}
