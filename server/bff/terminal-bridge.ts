/**
 * Terminal sessions of the console: the browser's WebSocket (`/api/terminal?deviceId=…`) piped to
 * a `shell` stream the BFF initiates for the logged-in operator. Binary frames pass through
 * unchanged both ways (the terminal protocol is end to end); text frames carry status. Flow control
 * both ways: a slow browser pauses the device stream, a slow device pauses the browser socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConsoleCloseCode, type ConsoleCloseCodeValue, type ConsoleStatus } from '../../shared/console-protocol.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { StreamClosedError } from '../../shared/ws-duplex.js';
import { splitTarget } from '../http/router.js';
import { StreamRejectedError, type ServiceClient, type ServiceStream } from '../sdk/service-client.js';
import type { Role } from '../../shared/console-api.js';
import type { SessionSockets } from './session-sockets.js';
import { closeWithin } from '../../shared/ws-close.js';

// Small on purpose: everything queued here still reaches the screen after a Ctrl-C, so a terminal
// wants a short pipeline more than a deep one (the browser's own PAUSE watermark is 128 KiB).
const HIGH_WATER = 128 * 1024;
const LOW_WATER = 32 * 1024;
/** Most terminal frames a browser may send before we read them (keystrokes are tiny). */
const MAX_BROWSER_FRAME = 1024 * 1024 + 5;

export interface TerminalOptions {
  service: ServiceClient;
  streamName: string;
  connectTimeoutSeconds: number;
  responseTimeoutSeconds: number;
  log: (line: string) => void;
  /** Where each terminal is tracked against the session and account that opened it. */
  sockets: SessionSockets;
  /** Called with both ends once the stream is up (session recording hooks in here). */
  onOpen?: (info: { streamId: string; operator: string; operatorId: string; deviceId: string }) => Promise<TerminalTap | undefined>;
}

/** Sees the terminal bytes going each way (for recording); must not block. */
export interface TerminalTap {
  fromDevice(chunk: Buffer): void;
  fromBrowser(chunk: Buffer): void;
  end(): void;
}

function send(ws: WebSocket, msg: ConsoleStatus): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

function fail(ws: WebSocket, code: ConsoleCloseCodeValue, message: string): void {
  send(ws, { type: 'error', code, message });
  closeSocket(ws, code, message);
}

/** Closes the browser socket; it may be paused (flow control), so read again to see the reply. */
function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState !== ws.OPEN) return;
  closeWithin(ws, code, reason, 5000);
}

/** What the operator should read when the stream could not be opened. */
function describeFailure(err: unknown, deviceId: string, connectTimeout: number): [ConsoleCloseCodeValue, string] {
  if (err instanceof StreamRejectedError) return [ConsoleCloseCode.Rejected, `Device rejected the terminal: ${err.reason}`];
  if (err instanceof DsError) {
    switch (err.code) {
      case ErrorCode.DeviceNotOnline:
        return [ConsoleCloseCode.Offline, `Device ${deviceId} is offline (it did not connect within ${connectTimeout} s).`];
      case ErrorCode.DeviceDisabled:
        return [ConsoleCloseCode.Offline, `Device ${deviceId} is disabled.`];
      case ErrorCode.DeviceResponseTimeout:
        return [ConsoleCloseCode.Timeout, `Device ${deviceId} did not answer in time.`];
      case ErrorCode.DeviceNotFound:
        return [ConsoleCloseCode.NotFound, `There is no device ${deviceId}.`];
      case ErrorCode.ThrottledDevice:
      case ErrorCode.ThrottledHub:
      case ErrorCode.ThrottledRate:
        return [ConsoleCloseCode.Busy, `The hub is busy: ${err.message}`];
      default:
        return [ConsoleCloseCode.Internal, `The hub refused the stream: ${err.message}`];
    }
  }
  if (err instanceof StreamClosedError) return [ConsoleCloseCode.Timeout, `The stream closed before it connected: ${err.message}`];
  return [ConsoleCloseCode.Internal, `Could not open the terminal: ${err instanceof Error ? err.message : String(err)}`];
}

export class TerminalSessions {
  readonly #o: TerminalOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BROWSER_FRAME, perMessageDeflate: false });
  readonly #open = new Set<WebSocket>();

  constructor(o: TerminalOptions) {
    this.#o = o;
  }

  get active(): number {
    return this.#open.size;
  }

  /** Completes an upgrade that the caller has already authenticated (session, Origin). */
  open(req: IncomingMessage, socket: Duplex, head: Buffer, who: { sessionKey: string; operator: string; operatorId: string; role: Role }): void {
    const deviceId = splitTarget(req.url).query.get('deviceId') ?? '';
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      if (who.role === 'viewer') return fail(ws, ConsoleCloseCode.Forbidden, 'Your role (viewer) may not open terminals.');
      if (!DEVICE_ID_PATTERN.test(deviceId)) return fail(ws, ConsoleCloseCode.NotFound, 'No device named in the request.');
      this.#open.add(ws);
      const untrack = this.#o.sockets.track({ sessionKey: who.sessionKey, operatorId: who.operatorId, role: who.role, close: (code, message) => fail(ws, code, message) });
      ws.once('close', () => {
        this.#open.delete(ws);
        untrack();
      });
      void this.#run(ws, deviceId, who.operator, who.operatorId);
    });
  }

  async #run(ws: WebSocket, deviceId: string, operator: string, operatorId: string): Promise<void> {
    // Browser frames that arrive before the device stream is up (HELLO, first keys) wait in TCP.
    ws.pause();
    send(ws, { type: 'status', phase: 'requesting' });
    let stream: ServiceStream;
    try {
      stream = await this.#o.service.initiateStream(deviceId, this.#o.streamName, {
        connectTimeoutSeconds: this.#o.connectTimeoutSeconds,
        responseTimeoutSeconds: this.#o.responseTimeoutSeconds,
        operator,
      });
    } catch (err) {
      const [code, message] = describeFailure(err, deviceId, this.#o.connectTimeoutSeconds);
      this.#o.log(`terminal for ${operator} on ${deviceId}: ${message}`);
      fail(ws, code, message);
      return;
    }
    const streamId = stream.streamId ?? '';
    if (ws.readyState !== ws.OPEN) {
      stream.destroy();
      return;
    }
    send(ws, { type: 'status', phase: 'accepted', streamId });
    this.#o.log(`terminal ${streamId}: ${operator} on ${deviceId}`);
    let tap: TerminalTap | undefined;
    try {
      tap = await this.#o.onOpen?.({ streamId, operator, operatorId, deviceId });
    } catch (err) {
      // A store that cannot take the recording must not cost the operator their terminal.
      this.#o.log(`terminal ${streamId}: not recorded: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (ws.readyState !== ws.OPEN) {
      tap?.end();
      stream.destroy();
      return;
    }
    this.#pipe(ws, stream, tap);
    send(ws, { type: 'status', phase: 'connected', streamId });
    ws.resume();
  }

  #pipe(ws: WebSocket, stream: ServiceStream, tap: TerminalTap | undefined): void {
    let paused = false;
    const drained = (): void => {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        stream.resume();
      }
    };
    stream.on('data', (chunk: Buffer) => {
      tap?.fromDevice(chunk);
      ws.send(chunk, { binary: true }, drained);
      if (!paused && ws.bufferedAmount > HIGH_WATER) {
        paused = true;
        stream.pause();
      }
    });
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (!isBinary) {
        try {
          const msg = JSON.parse(buf.toString('utf8')) as { type?: unknown; t?: unknown };
          if (msg.type === 'ping' && typeof msg.t === 'number') send(ws, { type: 'pong', t: msg.t });
        } catch {
          // ignore text that is not a ping
        }
        return;
      }
      tap?.fromBrowser(buf);
      if (!stream.write(buf)) {
        ws.pause();
        stream.once('drain', () => ws.resume());
      }
    });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      tap?.end();
    };
    stream.on('error', (err) => {
      end();
      const why = err instanceof StreamClosedError ? err.message : String(err);
      fail(ws, ConsoleCloseCode.ConnectionLost, `Connection to the device lost (${why}).`);
    });
    stream.on('close', () => {
      end();
      closeSocket(ws, ConsoleCloseCode.Normal, 'stream ended');
    });
    ws.on('close', () => {
      end();
      if (!stream.destroyed) stream.end();
    });
  }

  close(): void {
    for (const ws of this.#open) closeSocket(ws, 1001, 'console shutting down');
    this.#wss.close();
  }
}
