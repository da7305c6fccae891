/**
 * The device agent: maps stream names to local TCP targets and bridges each accepted stream to
 * its target, with backpressure both ways (pipe pauses whichever side is faster). A stream name
 * with no mapping, or a target that refuses the connection, is rejected with a reason the initiator
 * sees.
 */
import { connect, type Socket } from 'node:net';
import { DsError, ErrorCode } from '../shared/errors.js';
import { STREAM_NAME_PATTERN } from '../shared/limits.js';
import { createDeviceClient, type DeviceClient, type DeviceClientOptions, type StreamRequest } from './sdk/device-client.js';
import { VERSION } from './version.js';

/** A local service a stream name reaches: a TCP address, or a Unix socket (`path`). */
export type Target = { host: string; port: number } | { path: string };

/** `HOST:PORT` or `unix:PATH`, for logs. */
export function describeTarget(t: Target): string {
  return 'path' in t ? `unix:${t.path}` : `${t.host}:${t.port}`;
}

/** Parses `NAME=HOST:PORT` (IPv6 hosts in brackets) or `NAME=unix:PATH`. Throws DsError naming the problem. */
export function parseMapping(text: string): [string, Target] {
  const unix = /^([^=]+)=unix:(\/.+)$/.exec(text.trim());
  if (unix !== null) {
    const [, name, path] = unix as unknown as [string, string, string];
    if (!STREAM_NAME_PATTERN.test(name)) throw new DsError(ErrorCode.ArgumentInvalid, `--map "${text}": stream name may use letters, digits, "-", "." and "_"`);
    return [name, { path }];
  }
  const m = /^([^=]+)=(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (m === null) throw new DsError(ErrorCode.ArgumentInvalid, `--map "${text}" must look like NAME=HOST:PORT or NAME=unix:/ABSOLUTE/PATH (for example ssh=127.0.0.1:22)`);
  const [, name, host, port] = m as unknown as [string, string, string, string];
  if (!STREAM_NAME_PATTERN.test(name)) throw new DsError(ErrorCode.ArgumentInvalid, `--map "${text}": stream name may use letters, digits, "-", "." and "_"`);
  const p = Number(port);
  if (p < 1 || p > 65535) throw new DsError(ErrorCode.ArgumentInvalid, `--map "${text}": port must be 1-65535`);
  return [name, { host: host.replace(/^\[|\]$/g, ''), port: p }];
}

export interface AgentOptions extends DeviceClientOptions {
  connectionString: string;
  targets: ReadonlyMap<string, Target>;
  log: (line: string) => void;
  /** How long to wait for a target's TCP connection before rejecting. */
  targetConnectTimeoutMs?: number;
}

export interface Agent {
  client: DeviceClient;
  /** Streams being carried now. */
  readonly activeStreams: number;
  close(): void;
}

function connectTarget(t: Target, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // Half-open: a service that finishes writing first (a FIN) still gets the rest of the input (v2).
    const socket = 'path' in t ? connect({ path: t.path, allowHalfOpen: true }) : connect({ host: t.host, port: t.port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function startAgent(o: AgentOptions): Agent {
  // Its stream names go in its hello, so the console offers only what this device serves.
  const client = createDeviceClient(o.connectionString, { ...o, agent: o.agent ?? `devicestreams-agent/${VERSION}`, services: [...o.targets.keys()] });
  let active = 0;

  const handle = async (req: StreamRequest): Promise<void> => {
    const target = o.targets.get(req.streamName);
    if (target === undefined) {
      o.log(`stream ${req.streamId}: rejected "${req.streamName}" (no mapping)`);
      // Only that the name is not mapped: which services the device has is not the initiator's business.
      req.reject(`this device has no mapping for stream "${req.streamName}"`);
      return;
    }
    let socket: Socket;
    try {
      socket = await connectTarget(target, o.targetConnectTimeoutMs ?? 5000);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      o.log(`stream ${req.streamId}: rejected "${req.streamName}" (target ${describeTarget(target)}: ${why})`);
      req.reject(`the device's ${req.streamName} service is not reachable`);
      return;
    }
    let stream;
    try {
      stream = await req.accept();
    } catch (err) {
      socket.destroy();
      o.log(`stream ${req.streamId}: could not connect to the streaming endpoint: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    active += 1;
    o.log(`stream ${req.streamId}: "${req.streamName}" → ${describeTarget(target)}`);
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      active -= 1;
      o.log(`stream ${req.streamId}: ended (${why})`);
    };
    socket.on('error', (err) => stream.destroy(err));
    stream.on('error', () => socket.destroy());
    socket.on('close', () => finish('target closed'));
    stream.on('close', () => {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
      finish('stream closed');
    });
    socket.pipe(stream);
    stream.pipe(socket);
  };

  client.onStreamRequest(handle);
  // Set once the hub said this device was disabled or deleted: the refusals that follow (a deleted
  // device's key no longer verifies) are about that, not about a wrong key.
  let revoked = false;
  client.on('connected', () => {
    revoked = false;
    o.log(`connected to the hub as ${client.deviceId}`);
  });
  client.on('disconnected', (_code: number, why: string) => o.log(`disconnected from the hub: ${why}`));
  client.on('revoked', () => {
    revoked = true;
    o.log(`the hub disabled or deleted ${client.deviceId}; retrying at the slowest pace (up to 30 s apart) until it is enabled, or made again with this key`);
  });
  client.on('connectError', (err: Error) => o.log(`cannot connect to the hub: ${err.message}${revoked ? ` (${client.deviceId} was disabled or deleted on the hub)` : ''}`));
  client.on('reconnecting', (ms: number) => o.log(`reconnecting in ${(ms / 1000).toFixed(1)} s`));
  client.on('heartbeatTimeout', () => o.log('the hub stopped answering heartbeats; reconnecting'));
  void client.open();
  return {
    client,
    get activeStreams() {
      return active;
    },
    close: () => client.close(),
  };
}
