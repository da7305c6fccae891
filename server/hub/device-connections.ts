/**
 * The devices' control channels: one WebSocket per connected device, heartbeats, the replacement
 * of an older connection by a newer one, and the request/response exchange for stream requests.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../../shared/close-codes.js';
import {
  CONTROL_PROTOCOL_VERSION,
  decodeControlMessage,
  encodeControlMessage,
  type StreamRequestMessage,
  type StreamResponseMessage,
} from '../../shared/control-protocol.js';
import { CLOCK_SKEW_SECONDS, MAX_CONTROL_MESSAGE_BYTES } from '../../shared/limits.js';
import type { DeviceRouter, RequestOutcome } from './stream-broker.js';
import type { HeldConnection } from '../store/store.js';
import { closeWithin } from '../../shared/ws-close.js';
import { oneLine } from '../../shared/log-text.js';
import { settledWithin } from '../../shared/settled-within.js';

export interface DeviceConnectionsOptions {
  heartbeatIntervalMs: number;
  /**
   * Called when a device connects or disconnects (presence, lastActivity, metrics), with when (ms
   * since the epoch; for a connection, the channel's `since`).
   */
  onChange: (deviceId: string, online: boolean, at: number) => void;
  /**
   * Called with what a device's hello says it runs (`agent`), the agent's instance id when it said
   * one, and when its channel was accepted.
   */
  onHello?: (deviceId: string, agent: string, services: readonly string[] | null, instance: string | undefined, since: number) => void;
  /**
   * What the welcome waits for (at most WELCOME_WAIT_MS): the store's record of the connection, so
   * that a device told it is connected is connected for every node that reads the store.
   */
  beforeWelcome?: (deviceId: string) => Promise<void>;
  log: (line: string) => void;
}

/** Longest a welcome waits for `beforeWelcome` (a store that does not answer delays no device long). */
const WELCOME_WAIT_MS = 2000;


interface Pending {
  resolve: (r: StreamResponseMessage | undefined) => void;
  timer: NodeJS.Timeout;
}

interface Connection {
  deviceId: string;
  ws: WebSocket;
  alive: boolean;
  /** Stream requests waiting for an answer; made on first use (most channels sit idle). */
  pending: Map<string, Pending> | undefined;
  /** When the SAS token behind the channel expires (skew included); checked on every heartbeat. */
  expiresAtMs: number;
  /** When the channel was accepted (ms since the epoch): what the store records as its `connected_since`. */
  since: number;
  /** The device said hello on this channel (once; a second one is a protocol error). */
  greeted: boolean;
  /**
   * Stream requests sent on this channel and answers received (matched or late): a device answers
   * each request once, so more answers than requests is a device flooding its channel.
   */
  requests: number;
  answers: number;
}


/** The control channels this node holds; as a DeviceRouter it reaches only these devices. */
export class DeviceConnections implements DeviceRouter {
  readonly #opts: DeviceConnectionsOptions;
  // No client tracking: #conns already holds every channel (thousands of idle devices; bytes count).
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CONTROL_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });
  readonly #conns = new Map<string, Connection>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(opts: DeviceConnectionsOptions) {
    this.#opts = opts;
    this.#heartbeat = setInterval(() => this.#beat(), opts.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#conns.size;
  }

  /** The channels this node holds: each device's, with when it was accepted. */
  held(): HeldConnection[] {
    return [...this.#conns.values()].map((c) => ({ deviceId: c.deviceId, since: c.since }));
  }

  isOnline(deviceId: string): boolean {
    return this.#conns.has(deviceId);
  }

  /** Completes an already-authenticated upgrade. `tokenExpiry` is the SAS token's `se`. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, deviceId: string, tokenExpiry: number): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#attach(ws, deviceId, tokenExpiry));
  }

  #attach(ws: WebSocket, deviceId: string, tokenExpiry: number): void {
    const old = this.#conns.get(deviceId);
    const conn: Connection = { deviceId, ws, alive: true, pending: undefined, expiresAtMs: (tokenExpiry + CLOCK_SKEW_SECONDS) * 1000, since: Date.now(), greeted: false, requests: 0, answers: 0 };
    this.#conns.set(deviceId, conn);
    if (old !== undefined) this.#drop(old, CloseCode.Replaced, 'a newer connection for this device replaced this one');
    ws.on('error', () => undefined);
    ws.on('pong', () => { conn.alive = true; });
    ws.on('message', (data, isBinary) => {
      conn.alive = true;
      if (isBinary) return this.#drop(conn, CloseCode.ProtocolError, 'control messages are JSON text');
      const decoded = decodeControlMessage((data as Buffer).toString('utf8'));
      if (!decoded.ok) return this.#drop(conn, CloseCode.ProtocolError, decoded.error);
      const msg = decoded.value;
      if (msg.type === 'hello') {
        // Once per channel: each hello costs a store write and a welcome, so repeating it could
        // make the hub write and buffer without end.
        if (conn.greeted) return this.#drop(conn, CloseCode.ProtocolError, 'hello was already sent on this channel');
        conn.greeted = true;
        // Shown in the console and printed by `device list`: no control character reaches a screen.
        this.#opts.onHello?.(deviceId, oneLine(msg.agent), msg.services === undefined ? null : [...new Set(msg.services)].sort(), msg.instance, conn.since);
        const welcome = (): void => {
          if (ws.readyState === ws.OPEN) ws.send(encodeControlMessage({ type: 'welcome', protocol: CONTROL_PROTOCOL_VERSION, deviceId, heartbeatIntervalMs: this.#opts.heartbeatIntervalMs }));
        };
        const before = this.#opts.beforeWelcome?.(deviceId);
        if (before === undefined) welcome();
        else void settledWithin(before, WELCOME_WAIT_MS).then(welcome);
      } else if (msg.type === 'streamResponse') {
        if (++conn.answers > conn.requests) return this.#drop(conn, CloseCode.ProtocolError, 'a stream response to no stream request');
        const p = conn.pending?.get(msg.requestId);
        if (p !== undefined) {
          conn.pending?.delete(msg.requestId);
          clearTimeout(p.timer);
          p.resolve(msg);
        }
      } else {
        this.#drop(conn, CloseCode.ProtocolError, `a device may not send ${msg.type}`);
      }
    });
    ws.on('close', () => this.#closed(conn));
    this.#opts.onChange(deviceId, true, conn.since);
    const waiters = this.#waiters.get(deviceId);
    if (waiters !== undefined) {
      this.#waiters.delete(deviceId);
      for (const w of waiters) w();
    }
  }

  #closed(conn: Connection): void {
    for (const p of conn.pending?.values() ?? []) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    conn.pending = undefined;
    if (this.#conns.get(conn.deviceId) === conn) {
      this.#conns.delete(conn.deviceId);
      this.#opts.onChange(conn.deviceId, false, Date.now());
    }
  }

  #drop(conn: Connection, code: number, reason: string): void {
    if (this.#conns.get(conn.deviceId) === conn) {
      this.#conns.delete(conn.deviceId);
      this.#opts.onChange(conn.deviceId, false, Date.now());
    }
    closeWithin(conn.ws, code, reason, 2000);
  }

  #beat(): void {
    const now = Date.now();
    for (const conn of [...this.#conns.values()]) {
      if (now > conn.expiresAtMs) {
        this.#drop(conn, CloseCode.TokenExpired, 'SAS token expired; reconnect with a fresh one');
        continue;
      }
      if (!conn.alive) {
        this.#opts.log(`device ${conn.deviceId}: no heartbeat answer, closing its control channel`);
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  /** Resolves true as soon as the device is connected, false after `timeoutMs`. */
  waitOnline(deviceId: string, timeoutMs: number): Promise<boolean> {
    if (this.#conns.has(deviceId)) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.#waiters.get(deviceId);
      if (set === undefined) this.#waiters.set(deviceId, (set = new Set()));
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        if (set.size === 0 && this.#waiters.get(deviceId) === set) this.#waiters.delete(deviceId);
        resolve(false);
      }, timeoutMs);
      set.add(waiter);
    });
  }

  /**
   * Sends a stream request and waits for the answer: the device's response, or `timeout` when it
   * does not answer within `timeoutMs`, or `disconnected` when its channel ends first.
   */
  request(deviceId: string, msg: StreamRequestMessage, timeoutMs: number): Promise<RequestOutcome> {
    const conn = this.#conns.get(deviceId);
    if (conn === undefined) return Promise.resolve('disconnected');
    return new Promise((resolve) => {
      const pending = (conn.pending ??= new Map<string, Pending>());
      const timer = setTimeout(() => {
        pending.delete(msg.requestId);
        resolve('timeout');
      }, timeoutMs);
      pending.set(msg.requestId, { resolve: (r) => resolve(r ?? 'disconnected'), timer });
      conn.requests += 1;
      conn.ws.send(encodeControlMessage(msg));
    });
  }

  /** Closes a device's channel (disabled or deleted in the registry); false when this node has none. */
  disconnect(deviceId: string, code: number, reason: string): boolean {
    const conn = this.#conns.get(deviceId);
    if (conn === undefined) return false;
    this.#drop(conn, code, reason);
    return true;
  }

  /** Closes every channel and stops the heartbeat. */
  close(code: number = CloseCode.GoingAway, reason = 'hub shutting down'): void {
    clearInterval(this.#heartbeat);
    for (const conn of [...this.#conns.values()]) this.#drop(conn, code, reason);
    this.#wss.close();
  }
}
