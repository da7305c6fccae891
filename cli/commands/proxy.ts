/** `devicestreams proxy` — a local TCP listener; each connection gets its own stream. */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { ResumableStream } from '../../shared/resumable-stream.js';
import { CliError, describeError, logLine, parse, parseHostPort } from '../args.js';
import { NO_RESUME_HELP, SERVICE_FLAGS, SERVICE_FLAGS_HELP, STREAM_TIMEOUT_FLAGS, STREAM_TIMEOUT_FLAGS_HELP, deviceIdArg, serviceClientFromFlags, streamNameFlag, streamTimeouts } from '../service-flags.js';
import { keepServingWithoutStdout } from '../outputs.js';

const HELP = `
Usage: devicestreams proxy --device ID --stream NAME --listen HOST:PORT [options]

Listens locally; every accepted TCP connection initiates its own stream to the device's NAME
service and carries the connection's bytes through it. For example, with the agent mapping
ssh=127.0.0.1:22 on the device:

  devicestreams proxy --device pump-17 --stream ssh --listen 127.0.0.1:2222
  ssh -p 2222 user@127.0.0.1

Options:
  --device ID                 device id (a device the registry does not have stops the proxy at
                              start, when its policy may read the registry)
  --stream NAME               stream name (a mapping on the device's agent)
  --listen HOST:PORT          local address (port 0 picks a free one; the port is printed)
${SERVICE_FLAGS_HELP}
${STREAM_TIMEOUT_FLAGS_HELP}
${NO_RESUME_HELP}
  -h, --help                  this help
`;

/**
 * Before listening: a device id the registry does not have is a mistake to say now, not at the
 * first connection (in this log, with the connection simply closed). Anything else only informs:
 * a disabled device may be enabled later, a policy without registry read rights cannot look, and a
 * hub not reachable yet is asked again at each connection.
 */
async function lookAtDevice(service: ReturnType<typeof serviceClientFromFlags>, deviceId: string): Promise<void> {
  try {
    const d = await service.getDevice(deviceId);
    if (d.status === 'disabled') logLine(`device ${deviceId} is disabled: its streams are refused until it is enabled`);
  } catch (err) {
    if (err instanceof DsError && err.code === ErrorCode.DeviceNotFound) throw err;
    if (err instanceof DsError && (err.status === 401 || err.status === 403)) return;
    logLine(`could not look up device ${deviceId} (${describeError(err)}); each connection asks the hub again`);
  }
}

export async function run(argv: string[]): Promise<void> {
  keepServingWithoutStdout();
  const { values, positionals } = parse(argv, {
    device: { type: 'string' },
    stream: { type: 'string' },
    listen: { type: 'string' },
    ...SERVICE_FLAGS,
    ...STREAM_TIMEOUT_FLAGS,
  }, HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  const deviceId = values.device;
  const streamName = values.stream;
  if (deviceId === undefined || streamName === undefined || values.listen === undefined) {
    throw new CliError('--device, --stream and --listen are required (see --help)', 2);
  }
  // Every flag is checked before listening: a name the hub refuses would fail each connection.
  deviceIdArg(deviceId);
  streamNameFlag(streamName, '--stream');
  const { host, port } = parseHostPort(values.listen, '--listen');
  streamTimeouts(values);
  const service = serviceClientFromFlags(values);
  await lookAtDevice(service, deviceId);

  const onConnection = (socket: Socket): void => {
    socket.setNoDelay(true);
    socket.pause();
    socket.on('error', () => undefined);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    service.initiateStream(deviceId, streamName, streamTimeouts(values, (line) => logLine(`${peer}: ${line}`))).then(
      (stream) => {
        logLine(`${peer}: stream ${stream.streamId ?? ''} open to ${deviceId}/${streamName}`);
        stream.on('error', (err) => {
          logLine(`${peer}: ${describeError(err)}`);
          socket.destroy();
        });
        socket.on('error', (err) => stream.destroy(err));
        stream.on('close', () => {
          if (!socket.destroyed) socket.end();
        });
        if (stream instanceof ResumableStream) {
          stream.on('peer', (v2: boolean) => {
            if (!v2) logLine(`${peer}: the device's agent does not speak stream protocol v2 (no half-close or resume)`);
          });
        }
        socket.pipe(stream);
        stream.pipe(socket);
        socket.resume();
      },
      (err: unknown) => {
        logLine(`${peer}: ${describeError(err)}`);
        socket.destroy();
      },
    );
  };
  // Half-open: an application that finishes sending (a FIN) still gets the device's answer (v2).
  const server = createServer({ noDelay: true, allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new CliError(`${values.listen} is in use; pick another --listen port`) : err));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  logLine(`listening on ${bound.address}:${bound.port} → ${deviceId}/${streamName}`);
  process.stdout.write(`LISTENING ${bound.address}:${bound.port}\n`);
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
