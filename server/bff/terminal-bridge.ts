/**
 * Terminal sessions of the console: the browser's WebSocket (`/api/terminal?deviceId=…`) piped to
 * a `shell` stream the BFF initiates for the logged-in operator. Binary frames pass through both
 * ways (the terminal protocol is end to end); text frames carry status. Flow control both ways: a
 * slow browser pauses the device stream, a slow device pauses the browser socket.
 *
 * Resumable sessions (terminal protocol version 2) pass through too, with two frames changed on
 * the way: the shell server's SESSION loses its secret (kept in the store, see
 * resumable-terminals.ts), and a browser's attach HELLO — for `session=ID` named in the socket URL,
 * the operator's own — gets it. The bridge records each connection of a session in the store
 * (announced, attached, detached, gone) from the frames it sees, so the operator can list and
 * reattach it later, from this or another console node.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConsoleCloseCode, type ConsoleCloseCodeValue } from '../../shared/console-protocol.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import {
  FrameDecoder,
  FrameType,
  SESSION_ID_PATTERN,
  SessionCloseCode,
  TERMINAL_RESUMABLE_VERSION,
  TerminalProtocolError,
  encodeFrame,
  type TerminalFrame,
} from '../../shared/terminal-protocol.js';
import { StreamClosedError } from '../../shared/ws-duplex.js';
import { splitTarget } from '../http/router.js';
import type { DeviceDescription, ServiceClient, ServiceStream } from '../sdk/service-client.js';
import type { TerminalSessionRow } from '../store/store.js';
import type { Role } from '../../shared/console-api.js';
import type { SessionSockets } from './session-sockets.js';
import { TerminalRefusal, type ResumableTerminals } from './resumable-terminals.js';
import { connectTimeoutFor, describeStreamFailure } from './terminal-refusals.js';
import { closeReason, closeSocket, fail, firstFrame, send, type TerminalTap } from './terminal-socket.js';

// Small on purpose: everything queued here still reaches the screen after a Ctrl-C, so a terminal
// wants a short pipeline more than a deep one (the browser's own PAUSE watermark is 128 KiB).
const HIGH_WATER = 128 * 1024;
const LOW_WATER = 32 * 1024;
/** A ping is answered only while less than this waits to reach the page (output included). */
const PONG_MAX_BUFFERED_BYTES = 2 * HIGH_WATER;
/** Most terminal frames a browser may send before we read them (keystrokes are tiny). */
const MAX_BROWSER_FRAME = 1024 * 1024 + 5;
/** A HELLO is small; a first frame that claims more is not one. */
const MAX_HELLO_FRAME = 512;
/** The shell server's first frame of a resumable session (SESSION, ATTACHED, CLOSE) is small too. */
const MAX_ANNOUNCEMENT_FRAME = 1024;
/**
 * A page pings every 2 s; one silent this long is gone (a laptop that went to sleep, a network that
 * vanished without a FIN), and its socket is closed so the device's session is detached rather than
 * held by a dead connection. Generous: browsers slow down timers of background tabs.
 */
const BROWSER_SILENCE_MS = 75_000;

export interface TerminalOptions {
  service: ServiceClient;
  streamName: string;
  connectTimeoutSeconds: number;
  responseTimeoutSeconds: number;
  log: (line: string) => void;
  /** Where each terminal is tracked against the session and account that opened it. */
  sockets: SessionSockets;
  /** The store side of resumable sessions. */
  resumable: ResumableTerminals;
  /**
   * Called once the stream is up (session recording hooks in here): for a new session, or with
   * `resume` for a connection that reattaches one.
   */
  onOpen?: (info: { streamId: string; operator: string; operatorId: string; deviceId: string; resume?: TerminalSessionRow | undefined }) => Promise<TerminalTap | undefined>;
}

/** What one connection knows of the session it carries. */
interface Link {
  deviceId: string;
  operator: string;
  operatorId: string;
  streamId: string;
  /** The session the socket URL named (a reattach). */
  resume: TerminalSessionRow | undefined;
  /** From the browser's HELLO: a plain session (version 1), a new resumable one, or an attach. */
  mode: 'unknown' | 'plain' | 'new' | 'attach';
  sessionId: string | undefined;
  detachTimeoutMs: number;
  /** This connection's attach number in the store, once written. */
  seq: number | undefined;
  /** The session ended (EXIT or a CLOSE that says so), or another connection took it over. */
  over: boolean;
  takenOver: boolean;
  /** The CLOSE frame the shell server sent, if any: why this connection ends. */
  closeFrame: { code: number; message: string } | undefined;
  /** The store writes of this connection, one after another (the row must exist before its detach). */
  lifecycle: Promise<void>;
}

export class TerminalSessions {
  readonly #o: TerminalOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BROWSER_FRAME, perMessageDeflate: false });
  /** Open sockets and when each last said anything. */
  readonly #open = new Map<WebSocket, { lastSeen: number }>();
  readonly #silenceCheck: NodeJS.Timeout;

  constructor(o: TerminalOptions) {
    this.#o = o;
    this.#silenceCheck = setInterval(() => {
      const now = Date.now();
      for (const [ws, seen] of this.#open) {
        if (now - seen.lastSeen > BROWSER_SILENCE_MS) fail(ws, ConsoleCloseCode.ConnectionLost, `The page did not answer for ${BROWSER_SILENCE_MS / 1000} s.`);
      }
    }, 10_000);
    this.#silenceCheck.unref();
  }

  get active(): number {
    return this.#open.size;
  }

  /** Completes an upgrade that the caller has already authenticated (session, Origin). */
  open(req: IncomingMessage, socket: Duplex, head: Buffer, who: { sessionKey: string; operator: string; operatorId: string; role: Role }): void {
    const query = splitTarget(req.url).query;
    const deviceId = query.get('deviceId') ?? '';
    const sessionId = query.get('session') ?? undefined;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      if (who.role === 'viewer') return fail(ws, ConsoleCloseCode.Forbidden, 'Your role (viewer) may not open terminals.');
      if (!DEVICE_ID_PATTERN.test(deviceId)) return fail(ws, ConsoleCloseCode.NotFound, 'No device named in the request.');
      if (sessionId !== undefined && !SESSION_ID_PATTERN.test(sessionId)) return fail(ws, ConsoleCloseCode.SessionEnded, 'That is not a terminal session id.');
      const seen = { lastSeen: Date.now() };
      this.#open.set(ws, seen);
      ws.on('message', () => {
        seen.lastSeen = Date.now();
      });
      const untrack = this.#o.sockets.track({ sessionKey: who.sessionKey, operatorId: who.operatorId, role: who.role, close: (code, message) => fail(ws, code, message) });
      ws.once('close', () => {
        this.#open.delete(ws);
        untrack();
      });
      void this.#run(ws, deviceId, who.operator, who.operatorId, sessionId);
    });
  }

  async #run(ws: WebSocket, deviceId: string, operator: string, operatorId: string, sessionId: string | undefined): Promise<void> {
    // Browser frames that arrive before the device stream is up (HELLO, first keys) wait in TCP.
    ws.pause();
    let resume: TerminalSessionRow | undefined;
    if (sessionId !== undefined) {
      try {
        resume = await this.#o.resumable.forReattach(sessionId, deviceId, operatorId);
      } catch (err) {
        if (err instanceof TerminalRefusal) fail(ws, err.code, err.message);
        else fail(ws, ConsoleCloseCode.Internal, `Could not look up the terminal session: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    // A new terminal on a device the registry shows offline gets a short wait, so "offline" is said
    // at once; a reattach waits the whole timeout (its device may be reconnecting after a hub restart).
    const connectTimeoutSeconds = resume === undefined ? connectTimeoutFor(await this.#registryEntry(deviceId), this.#o.connectTimeoutSeconds) : this.#o.connectTimeoutSeconds;
    send(ws, { type: 'status', phase: 'requesting' });
    let stream: ServiceStream;
    try {
      stream = await this.#o.service.initiateStream(deviceId, this.#o.streamName, {
        connectTimeoutSeconds,
        responseTimeoutSeconds: this.#o.responseTimeoutSeconds,
        operator,
      });
    } catch (err) {
      const registryOffline = connectTimeoutSeconds < this.#o.connectTimeoutSeconds;
      const { code, message, hint } = describeStreamFailure(err, deviceId, this.#o.streamName, connectTimeoutSeconds, registryOffline);
      this.#o.log(`terminal for ${operator} on ${deviceId}: ${message}`);
      fail(ws, code, message, hint);
      return;
    }
    const streamId = stream.streamId ?? '';
    if (ws.readyState !== ws.OPEN) {
      stream.destroy();
      return;
    }
    send(ws, { type: 'status', phase: 'accepted', streamId });
    this.#o.log(`terminal ${streamId}: ${operator} on ${deviceId}${resume === undefined ? '' : ` (reattaching session ${resume.sessionId})`}`);
    let tap: TerminalTap | undefined;
    try {
      tap = await this.#o.onOpen?.({ streamId, operator, operatorId, deviceId, resume });
    } catch (err) {
      // A store that cannot take the recording must not cost the operator their terminal.
      this.#o.log(`terminal ${streamId}: not recorded: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (ws.readyState !== ws.OPEN) {
      tap?.end();
      stream.destroy();
      return;
    }
    const link: Link = {
      deviceId, operator, operatorId, streamId, resume,
      mode: 'unknown',
      sessionId: resume?.sessionId,
      detachTimeoutMs: resume?.detachTimeoutMs ?? 0,
      seq: undefined,
      over: false,
      takenOver: false,
      closeFrame: undefined,
      lifecycle: Promise.resolve(),
    };
    this.#pipe(ws, stream, tap, link);
    send(ws, { type: 'status', phase: 'connected', streamId });
    ws.resume();
  }

  /** Runs the store writes of one connection in order; a failing store costs a log line, not the terminal. */
  /** The registry's entry for a device about to get a new terminal; undefined when it cannot be read (the stream request then says why). */
  async #registryEntry(deviceId: string): Promise<DeviceDescription | undefined> {
    try {
      return await this.#o.service.getDevice(deviceId);
    } catch {
      return undefined;
    }
  }

  #later(link: Link, what: string, write: () => Promise<void>): void {
    link.lifecycle = link.lifecycle.then(write).catch((err: unknown) => this.#o.log(`terminal ${link.streamId}: could not record that the session ${what}: ${err instanceof Error ? err.message : String(err)}`));
  }

  /**
   * The browser's HELLO as it goes to the device (an attach gets the session's secret), or a
   * refusal: [code, sentence].
   */
  #helloToDevice(link: Link, hello: Extract<TerminalFrame, { type: 'hello' }>, raw: Buffer): Uint8Array | [ConsoleCloseCodeValue, string] {
    const want = hello.session;
    if (want === undefined) {
      if (link.resume !== undefined) return [ConsoleCloseCode.Internal, 'This page is out of date and cannot reattach a session; reload it.'];
      link.mode = 'plain';
      return raw;
    }
    if (want.mode === 'new') {
      if (link.resume !== undefined) return [ConsoleCloseCode.Internal, 'The page asked for a new session on a socket opened to reattach one.'];
      link.mode = 'new';
      return raw;
    }
    if (want.mode === 'end') return [ConsoleCloseCode.Forbidden, 'Terminal sessions are ended through the console (End session), not from a terminal.'];
    if (link.resume === undefined || want.sessionId !== link.resume.sessionId) return [ConsoleCloseCode.Internal, 'The page asked to reattach a session other than the one its socket was opened for.'];
    link.mode = 'attach';
    return encodeFrame({ ...hello, version: TERMINAL_RESUMABLE_VERSION, session: { ...want, secret: this.#o.resumable.secretOf(link.resume) } });
  }

  /** The shell server's first frame of a resumable session, as the browser gets it (SESSION without its secret). */
  #announcement(link: Link, f: TerminalFrame, raw: Buffer): Uint8Array {
    if (f.type === 'session') {
      link.sessionId = f.sessionId;
      link.detachTimeoutMs = f.detachTimeoutSeconds * 1000;
      const announced = { sessionId: f.sessionId, secret: f.secret, deviceId: link.deviceId, operator: link.operator, operatorId: link.operatorId, streamId: link.streamId, recordingId: link.streamId, detachTimeoutSeconds: f.detachTimeoutSeconds };
      this.#later(link, 'started', async () => {
        link.seq = await this.#o.resumable.announced(announced);
      });
      this.#o.log(`terminal ${link.streamId}: resumable session ${f.sessionId} (detach timeout ${f.detachTimeoutSeconds} s)`);
      return encodeFrame({ ...f, secret: new Uint8Array(0) });
    }
    if (f.type === 'attached' && link.sessionId !== undefined) {
      const id = link.sessionId;
      link.detachTimeoutMs = f.detachTimeoutSeconds * 1000;
      this.#later(link, 'was reattached', async () => {
        link.seq = await this.#o.resumable.attached(id, link.streamId);
      });
    }
    return raw;
  }

  /** Session events in the device's frames: its end, or another connection taking it over. */
  #onDeviceFrames(link: Link, frames: readonly TerminalFrame[]): void {
    for (const f of frames) {
      if (f.type !== 'exit' && f.type !== 'close') continue;
      if (f.type === 'close') link.closeFrame = { code: f.code, message: f.message };
      if (f.type === 'close' && f.code === SessionCloseCode.TakenOver) {
        link.takenOver = true;
        continue;
      }
      link.over = true;
      const id = link.sessionId;
      if (id !== undefined && link.mode !== 'plain') this.#later(link, 'ended', () => this.#o.resumable.gone(id));
    }
  }

  #pipe(ws: WebSocket, stream: ServiceStream, tap: TerminalTap | undefined, link: Link): void {
    let paused = false;
    const drained = (): void => {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        stream.resume();
      }
    };
    // Both directions are decoded as they pass (for the recording and the session's events); a
    // direction that fails to decode is passed on untouched: its receiver closes the stream.
    const fromDevice = new FrameDecoder();
    const fromBrowser = new FrameDecoder();
    let deviceBroken = false;
    let browserBroken = false;
    const decode = (decoder: FrameDecoder, chunk: Uint8Array, which: 'device' | 'browser'): TerminalFrame[] => {
      if (which === 'device' ? deviceBroken : browserBroken) return [];
      try {
        return decoder.push(chunk);
      } catch (err) {
        if (which === 'device') deviceBroken = true;
        else browserBroken = true;
        tap?.broken(err instanceof TerminalProtocolError ? err.message : String(err));
        return [];
      }
    };
    /** Bytes of a first frame still incomplete: the browser's HELLO, the device's announcement. */
    let browserHead: Buffer | null = Buffer.alloc(0);
    let deviceHead: Buffer | null = Buffer.alloc(0);

    const toBrowser = (out: Uint8Array): void => {
      if (out.length === 0) return;
      const frames = decode(fromDevice, out, 'device');
      if (frames.length > 0) {
        this.#onDeviceFrames(link, frames);
        tap?.fromDevice(frames);
      }
      ws.send(out, { binary: true }, drained);
      if (!paused && ws.bufferedAmount > HIGH_WATER) {
        paused = true;
        stream.pause();
      }
    };
    stream.on('data', (chunk: Buffer) => {
      if (deviceHead === null || link.mode === 'plain') {
        deviceHead = null;
        toBrowser(chunk);
        return;
      }
      const head: Buffer = deviceHead.length === 0 ? chunk : Buffer.concat([deviceHead, chunk]);
      const type = head[0];
      const announcement = type === FrameType.Session || type === FrameType.Attached || type === FrameType.Close;
      if (!announcement || (head.length >= 5 && head.readUInt32BE(1) > MAX_ANNOUNCEMENT_FRAME)) {
        // A plain session after all (a shell server without a detach timeout), or not ours to read.
        deviceHead = null;
        toBrowser(head);
        return;
      }
      const split = firstFrame(head);
      if (split === undefined) {
        deviceHead = head;
        return;
      }
      deviceHead = null;
      let first: TerminalFrame | undefined;
      try {
        first = new FrameDecoder().push(split.frame)[0];
      } catch {
        // Malformed: passed on as it is (the browser says so and closes).
      }
      toBrowser(first === undefined ? head : Buffer.concat([this.#announcement(link, first, split.frame), split.rest]));
    });

    const toDevice = (buf: Buffer): void => {
      if (buf.length === 0) return;
      if (!stream.write(buf)) {
        ws.pause();
        stream.once('drain', () => ws.resume());
      }
    };
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (!isBinary) {
        try {
          const msg = JSON.parse(buf.toString('utf8')) as { type?: unknown; t?: unknown };
          // Answered only while the page reads (a page pinging unread would queue pongs without end).
          if (msg.type === 'ping' && typeof msg.t === 'number' && ws.bufferedAmount <= PONG_MAX_BUFFERED_BYTES) send(ws, { type: 'pong', t: msg.t });
        } catch {
          // ignore text that is not a ping
        }
        return;
      }
      if (browserHead === null) {
        const frames = decode(fromBrowser, buf, 'browser');
        if (frames.length > 0) tap?.fromBrowser(frames);
        toDevice(buf);
        return;
      }
      // The first frame must be HELLO: it says what kind of session this is.
      const head: Buffer = browserHead.length === 0 ? buf : Buffer.concat([browserHead, buf]);
      if (head.length >= 5 && (head[0] !== FrameType.Hello || head.readUInt32BE(1) > MAX_HELLO_FRAME)) {
        fail(ws, ConsoleCloseCode.Internal, 'The page did not start the terminal with HELLO.');
        return;
      }
      const split = firstFrame(head);
      if (split === undefined) {
        browserHead = head;
        return;
      }
      browserHead = null;
      let hello: TerminalFrame | undefined;
      try {
        hello = fromBrowser.push(split.frame)[0];
      } catch (err) {
        fail(ws, ConsoleCloseCode.Internal, `The page sent a malformed HELLO: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      if (hello?.type !== 'hello') return;
      const out = this.#helloToDevice(link, hello, split.frame);
      if (Array.isArray(out)) {
        fail(ws, out[0], out[1]);
        return;
      }
      if (link.mode === 'plain') deviceHead = null;
      const rest = decode(fromBrowser, split.rest, 'browser');
      tap?.fromBrowser([hello, ...rest]);
      toDevice(Buffer.concat([out, split.rest]));
    });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const detached = link.sessionId !== undefined && link.mode !== 'plain' && !link.over && !link.takenOver;
      if (detached) {
        const id = link.sessionId as string;
        const recorded = tap?.offsets() ?? { output: link.resume?.outputRecorded ?? 0, input: link.resume?.inputRecorded ?? 0 };
        this.#later(link, 'was detached', async () => {
          if (link.seq !== undefined) await this.#o.resumable.detached(id, link.seq, link.detachTimeoutMs, recorded);
        });
        this.#o.log(`terminal ${link.streamId}: session ${id} detached; the device keeps it for ${link.detachTimeoutMs / 1000} s`);
      }
      tap?.end(detached);
    };
    stream.on('error', (err) => {
      end();
      const why = err instanceof StreamClosedError ? err.message : String(err);
      fail(ws, ConsoleCloseCode.ConnectionLost, `Connection to the device lost (${why}).`);
    });
    stream.on('close', () => {
      end();
      if (link.closeFrame !== undefined) {
        const [code, message] = closeReason(link.closeFrame);
        fail(ws, code, message);
      } else {
        closeSocket(ws, ConsoleCloseCode.Normal, 'stream ended');
      }
    });
    ws.on('close', () => {
      end();
      if (!stream.destroyed) stream.end();
    });
  }

  close(): void {
    clearInterval(this.#silenceCheck);
    for (const ws of this.#open.keys()) closeSocket(ws, 1001, 'console shutting down');
    this.#wss.close();
  }
}
