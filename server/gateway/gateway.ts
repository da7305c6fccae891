/**
 * The streaming endpoint: `wss://…/bridges/{streamId}` with `Authorization: Bearer {token}`.
 * Authenticates each side during the upgrade with its single-use token, holds the first side
 * (paused, so anything it sends waits in TCP) until the second arrives, then bridges them and
 * reports the stream's opening and end to the hub.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../../shared/close-codes.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { MAX_FRAME_BYTES } from '../../shared/limits.js';
import { verifyStreamToken, type StreamSide } from '../../shared/stream-token.js';
import type { StreamBytes, StreamEnd } from '../store/store.js';
import { bridge, cutForHeartbeat, supersede } from './bridge.js';
import { STREAM_V2_SUBPROTOCOL } from '../../shared/stream-protocol.js';
import { ExpiringSet } from './used-tokens.js';
import { closeWithin } from '../../shared/ws-close.js';
import { settledWithin } from '../../shared/settled-within.js';
import type { GatewayControl } from '../hub/stream-broker.js';

/** Where the endpoint reports stream events: the broker in-process, or the hub over HTTPS. */
export interface StreamReporter {
  /** Both sides connected; `v2` when both speak stream protocol v2 (the stream can resume). */
  opened(streamId: string, v2: boolean): void | Promise<void>;
  ended(streamId: string, end: StreamEnd): void | Promise<void>;
  /** A v2 stream lost its pair at `at` (its sides will come back); the stream's bytes as the pair knew them. */
  interrupted(streamId: string, totals: StreamBytes, at: number): void | Promise<void>;
  /** Both sides of an interrupted v2 stream are connected again. */
  resumed(streamId: string): void | Promise<void>;
}

export interface GatewayOptions {
  /** This endpoint's node; tokens naming another node's endpoint are refused. */
  node: string;
  tokenSecret: Buffer;
  reporter: StreamReporter;
  heartbeatIntervalMs: number;
  log: (line: string) => void;
  /** Most token ids remembered at once (each lives at most 60 s). */
  maxRememberedTokens?: number;
}

interface Waiting {
  deviceId: string;
  side: StreamSide;
  /** A resumed leg (its stream lost a connection before). */
  resumed: boolean;
  ws: WebSocket;
  timer: NodeJS.Timeout;
  /** Our own close listener, removed by itself (ws keeps listeners of its own on 'close'). */
  onClose: (code: number, reason: Buffer) => void;
}

interface Alive {
  alive: boolean;
}

/** Longest a stopping endpoint waits for its last reports to reach the hub or the store. */
const REPORT_WAIT_MS = 5000;

export class Gateway implements GatewayControl {
  readonly #o: GatewayOptions;
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    // A side that offers stream protocol v2 gets it (half-close, resume); others stay v1.
    handleProtocols: (protocols) => (protocols.has(STREAM_V2_SUBPROTOCOL) ? STREAM_V2_SUBPROTOCOL : false),
  });
  readonly #usedTokens: ExpiringSet;
  readonly #endedStreams: ExpiringSet;
  readonly #waiting = new Map<string, Waiting>();
  readonly #open = new Map<string, [WebSocket, WebSocket]>();
  /** Reports on their way to the hub or the store (at most one per stream event). */
  readonly #reporting = new Set<Promise<void>>();
  /**
   * When a pair was set aside for a resumed leg. Its end is reported as an interruption at that
   * moment, not when its sockets finally close (up to 2 s later, after the new pair may have
   * formed): a later time would mark the resumed stream interrupted again.
   */
  readonly #supersededAt = new WeakMap<readonly WebSocket[], number>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #liveness = new WeakMap<WebSocket, Alive>();
  /** Streams the hub asked to close: their end is reported as the hub's doing, with its reason. */
  readonly #aborted = new Map<string, { code: number; reason: string }>();

  constructor(options: GatewayOptions) {
    this.#o = options;
    this.#usedTokens = new ExpiringSet(options.maxRememberedTokens ?? 200_000);
    this.#endedStreams = new ExpiringSet(options.maxRememberedTokens ?? 200_000);
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /** Streams with both sides connected. */
  get openStreams(): number {
    return this.#open.size;
  }

  /** Stream-side sockets this endpoint holds (waiting or bridged); 0 when no stream is live. */
  get sockets(): number {
    return this.#wss.clients.size;
  }

  /**
   * Authenticates an upgrade for `streamId`; throws DsError (401/404) before any socket exists.
   * On success completes the upgrade.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, streamId: string): void {
    const auth = req.headers.authorization;
    if (auth === undefined || !auth.startsWith('Bearer ')) {
      throw new DsError(ErrorCode.MissingCredentials, 'missing "Authorization: Bearer <stream token>"');
    }
    const now = Date.now();
    const claims = verifyStreamToken(this.#o.tokenSecret, auth.slice(7).trim(), Math.floor(now / 1000));
    if (claims.sid !== streamId) throw new DsError(ErrorCode.WrongScope, 'stream token is for another stream');
    if (claims.gw !== undefined && claims.gw !== this.#o.node) {
      throw new DsError(ErrorCode.WrongScope, `stream token is for the streaming endpoint of node "${claims.gw}", not this one; connect to the URL the hub gave`);
    }
    if (this.#usedTokens.has(claims.jti, now)) throw new DsError(ErrorCode.Unauthorized, 'stream token has already been used; tokens are single-use');
    const resumed = claims.res === true;
    if (this.#endedStreams.has(streamId, now)) throw new DsError(ErrorCode.StreamNotFound, 'this stream has already ended; initiate a new one');
    const waiting = this.#waiting.get(streamId);
    if (!resumed && waiting !== undefined && waiting.side === claims.side) {
      throw new DsError(ErrorCode.WrongScope, `the ${claims.side} side of this stream is already connected`);
    }
    if (!resumed && this.#open.has(streamId)) throw new DsError(ErrorCode.WrongScope, 'this stream is already connected');
    if (!this.#usedTokens.add(claims.jti, (claims.exp + 1) * 1000, now)) {
      throw new DsError(ErrorCode.Unauthorized, 'stream token has already been used; tokens are single-use');
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#attach(ws, streamId, claims.side, claims.dev, claims.exp, resumed));
  }

  /**
   * A resumed leg arrived: whatever this endpoint still holds of its stream is stale. A bridged
   * pair is ended (both sides told to come back) and a waiting leg of the same side replaced.
   */
  #clearForResume(streamId: string, side: StreamSide): void {
    const pair = this.#open.get(streamId);
    if (pair !== undefined) {
      this.#supersededAt.set(pair, Date.now());
      supersede(pair);
      // Gone at once, not when its sockets have closed: the other side's resumed leg may come first.
      this.#open.delete(streamId);
    }
    const w = this.#waiting.get(streamId);
    if (w !== undefined && w.side === side) {
      clearTimeout(w.timer);
      this.#waiting.delete(streamId);
      w.ws.removeListener('close', w.onClose);
      closeWithin(w.ws, CloseCode.PeerInterrupted, 'a newer connection of this side arrived', 2000);
    }
  }

  #attach(ws: WebSocket, streamId: string, side: StreamSide, deviceId: string, exp: number, resumed: boolean): void {
    if (resumed) this.#clearForResume(streamId, side);
    ws.on('error', () => undefined);
    const alive: Alive = { alive: true };
    this.#liveness.set(ws, alive);
    ws.on('pong', () => { alive.alive = true; });
    ws.on('message', () => { alive.alive = true; });
    const peer = this.#waiting.get(streamId);
    if (peer === undefined || this.#open.has(streamId)) {
      // First side: hold it, unread, until the other arrives or the handshake deadline passes.
      ws.pause();
      const timer = setTimeout(() => {
        if (this.#waiting.get(streamId)?.ws === ws) this.#waiting.delete(streamId);
        // Read again so the peer's closing reply arrives (a paused socket would wait 30 s for it).
        ws.resume();
        ws.close(CloseCode.HandshakeTimeout, 'the other side did not connect in time');
        // A resumed leg whose peer did not come back yet: the stream may still resume (its side
        // retries within the resume window; the hub ends it after that). A fresh one has failed.
        if (!resumed) this.#end(streamId, { closedBy: 'gateway', closeCode: CloseCode.HandshakeTimeout, reason: 'handshakeTimeout: the other side did not connect in time', bytesToDevice: 0, bytesFromDevice: 0 });
      }, Math.max(0, (exp + 1) * 1000 - Date.now()));
      timer.unref();
      const onClose = (code: number, reason: Buffer): void => {
        const w = this.#waiting.get(streamId);
        if (w?.ws !== ws) return;
        clearTimeout(w.timer);
        this.#waiting.delete(streamId);
        if (resumed) return;
        this.#end(streamId, { closedBy: side, closeCode: code, reason: `closed before the other side connected (${code}${reason.length > 0 ? `: ${reason.toString()}` : ''})`, bytesToDevice: 0, bytesFromDevice: 0 });
      };
      ws.once('close', onClose);
      this.#waiting.set(streamId, { deviceId, side, resumed, ws, timer, onClose });
      return;
    }
    clearTimeout(peer.timer);
    this.#waiting.delete(streamId);
    peer.ws.removeListener('close', peer.onClose);
    const service = side === 'service' ? ws : peer.ws;
    const device = side === 'device' ? ws : peer.ws;
    const pair: [WebSocket, WebSocket] = [service, device];
    this.#open.set(streamId, pair);
    if (resumed || peer.resumed) this.#report(streamId, 'resumed', () => this.#o.reporter.resumed(streamId));
    else this.#opened(streamId, pair.every((s) => s.protocol === STREAM_V2_SUBPROTOCOL));
    bridge(service, device, this.#o.heartbeatIntervalMs, (end) => {
      if (this.#open.get(streamId) === pair) this.#open.delete(streamId);
      const aborted = this.#aborted.get(streamId);
      this.#aborted.delete(streamId);
      if (end.interrupted && aborted === undefined) {
        const totals = { bytesToDevice: end.bytesToDevice, bytesFromDevice: end.bytesFromDevice };
        const at = this.#supersededAt.get(pair) ?? Date.now();
        this.#report(streamId, 'interruption', () => this.#o.reporter.interrupted(streamId, totals, at));
        return;
      }
      this.#end(streamId, aborted === undefined ? end : { ...end, closedBy: 'hub', closeCode: aborted.code, reason: aborted.reason });
    });
    if (peer.ws.readyState !== peer.ws.OPEN) {
      // The first side vanished in the same tick; the bridge's close handler will not fire for it.
      service.close(CloseCode.PeerDropped, 'the other side dropped');
      device.close(CloseCode.PeerDropped, 'the other side dropped');
    }
  }

  #end(streamId: string, end: StreamEnd): void {
    this.#endedStreams.add(streamId, Date.now() + 120_000);
    this.#report(streamId, 'end', () => this.#o.reporter.ended(streamId, end));
  }

  /** Sends a report without holding up the sockets; close() waits for those still on their way. */
  #report(streamId: string, what: string, send: () => void | Promise<void>): void {
    const p = Promise.resolve()
      .then(send)
      .catch((err: unknown) => this.#o.log(`stream ${streamId}: could not record its ${what}: ${String(err)}`));
    this.#reporting.add(p);
    void p.finally(() => this.#reporting.delete(p));
  }

  #opened(streamId: string, v2: boolean): void {
    this.#report(streamId, 'opening', () => this.#o.reporter.opened(streamId, v2));
  }

  #beat(): void {
    for (const ws of this.#wss.clients) {
      const a = this.#liveness.get(ws);
      if (a === undefined) continue;
      // A socket we stopped reading (its peer is slow) cannot show us its pong, and one whose
      // window is closed has our ping queued behind data: both are flow control, not death.
      if (ws.isPaused || ws.bufferedAmount > 0) {
        a.alive = true;
        // A v2 side listens for our pings to tell a dead path from a quiet one: one we stopped
        // reading still gets them while our sends to it flow.
        if (ws.bufferedAmount === 0 && ws.protocol !== '') ws.ping();
        continue;
      }
      if (!a.alive) {
        this.#o.log('streaming endpoint: a stream side stopped answering heartbeats; closing its stream');
        cutForHeartbeat(ws);
        continue;
      }
      a.alive = false;
      ws.ping();
    }
  }

  /**
   * Closes a stream from outside (handshake deadline passed at the hub, device revoked, resume
   * window passed, hub shutting down). A shutdown does not end a v2 stream that was connected: its
   * sides come back to this node once it is back, or to another one.
   */
  abort(streamId: string, code: number, reason: string): void {
    const shutdown = code === CloseCode.HubShutdown;
    const w = this.#waiting.get(streamId);
    if (w !== undefined) {
      clearTimeout(w.timer);
      this.#waiting.delete(streamId);
      w.ws.removeListener('close', w.onClose);
      closeWithin(w.ws, code, reason, 2000);
      if (!(shutdown && w.resumed)) this.#end(streamId, { closedBy: 'hub', closeCode: code, reason, bytesToDevice: 0, bytesFromDevice: 0 });
    }
    const open = this.#open.get(streamId);
    if (open !== undefined) {
      const v2 = open.every((ws) => ws.protocol === STREAM_V2_SUBPROTOCOL);
      // Remembered so the pair's end is reported as this abort (not as the sides' close), unless
      // the pair is only interrupted.
      if (!(shutdown && v2) && this.#aborted.size < 100_000) this.#aborted.set(streamId, { code, reason });
      for (const ws of open) closeWithin(ws, code, reason, 2000);
    }
    // A leg arriving late (a resume token issued just before) finds it ended.
    if (!shutdown) this.#endedStreams.add(streamId, Date.now() + 120_000);
  }

  /**
   * Closes every stream (shutdown) and stops the heartbeat; resolves once every socket has closed
   * (peers that do not answer are cut off after 1 s), so the streams' ends have been reported.
   */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const id of [...this.#waiting.keys()]) this.abort(id, CloseCode.HubShutdown, 'hub shut down');
    for (const id of [...this.#open.keys()]) this.abort(id, CloseCode.HubShutdown, 'hub shut down');
    const sockets = [...this.#wss.clients];
    await Promise.all(
      sockets.map((ws) => new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        setTimeout(() => ws.terminate(), 1000).unref();
      })),
    );
    this.#wss.close();
    // The ends just reported are written before the store closes (else another node, or this one
    // when it starts again, would have to end those records for it). Bounded: a store that does
    // not answer does not hold the shutdown.
    await settledWithin(Promise.all([...this.#reporting]), REPORT_WAIT_MS);
  }
}
