/** `devicestreams stream` — stdin/stdout through one stream, like netcat. */
import { ResumableStream } from '../../shared/resumable-stream.js';
import { CliError, logLine, parse } from '../args.js';
import { SIGPIPE_STATUS, whenStdoutClosed } from '../outputs.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, STREAM_TIMEOUT_FLAGS, STREAM_TIMEOUT_FLAGS_HELP, deviceIdArg, serviceClientFromFlags, streamNameFlag, streamTimeouts } from '../service-flags.js';

const HELP = `
Usage: devicestreams stream DEVICE-ID --name NAME [options]

Opens one stream to the device's NAME service and pipes stdin to it and its output to stdout.
When stdin ends, the device's service sees end of input and its answer still comes back; the
command exits 0 once the device side has finished too (or on Ctrl-C). The stream survives a lost
connection (hub restart, network cut) within the resume window. A stream that cannot half-close
(--no-resume, or an older agent) does not end when stdin ends: see --close-on-eof.

Options:
  --name NAME                 stream name (a mapping on the device's agent)
  --close-on-eof              end the stream when stdin ends even though it cannot half-close
                              (--no-resume, or a device whose agent is older): output still in
                              flight is then lost; without it such a stream stays open until the
                              device closes it or Ctrl-C
${SERVICE_FLAGS_HELP}
${STREAM_TIMEOUT_FLAGS_HELP}
  --no-resume                 a plain (v1) stream: a lost connection ends it, and it has no
                              half-close, so the end of stdin does not end the stream; add
                              --close-on-eof to end it then, or leave --no-resume out (the
                              default stream half-closes and its answer still comes back)
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
  deviceIdArg(deviceId);
  streamNameFlag(values.name, '--name');
  const options = streamTimeouts(values, (line) => logLine(line));
  const service = serviceClientFromFlags(values);
  const stream = await service.initiateStream(deviceId, values.name, options);
  await new Promise<void>((resolve, reject) => {
    let outputGone = false;
    stream.on('error', (err) => (outputGone ? resolve() : reject(err)));
    stream.on('close', () => resolve());
    // Our reader went away (`| head`): nothing more can be delivered, so the stream is given up
    // (the device side sees it aborted, it does not wait for a resume) and the command stops as
    // Unix tools do on SIGPIPE, once its leg is closed.
    whenStdoutClosed(() => {
      outputGone = true;
      process.exitCode = SIGPIPE_STATUS;
      process.stdin.unpipe(stream);
      stream.destroy(new Error('its reader closed the output'));
    });
    stream.pipe(process.stdout);
    process.stdin.pipe(stream, { end: false });
    // End of input: half-close when the device side can (v2); with an older agent only if asked.
    process.stdin.once('end', () => {
      const decide = (): void => {
        const v2 = stream instanceof ResumableStream ? stream.peerV2 : false;
        if (v2 === undefined) stream.once('peer', decide);
        else if (v2 || values['close-on-eof'] === true) stream.end();
      };
      decide();
    });
    process.once('SIGINT', () => stream.end());
  });
  process.stdin.destroy();
}
