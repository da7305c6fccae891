/**
 * The device SDK. Keeps one control channel to the hub (WSS, SAS-authenticated), reconnects with
 * capped exponential backoff and jitter, renews its SAS token before it expires (a fresh connection
 * replaces the old one at the hub), and hands each stream request to the application, which accepts
 * (and gets a Duplex) or rejects with a reason.
 *
 *   const client = createDeviceClient(process.env.DEVICE_CONNECTION_STRING, { ca });
 *   client.onStreamRequest(async (req) => {
 *     if (req.streamName !== 'ssh') return req.reject('no such service');
 *     const stream = await req.accept();
 *     stream.pipe(net.connect(22, '127.0.0.1')).pipe(stream);
 *   });
 *   await client.open();
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { CloseCode, describeClose } from '../../shared/close-codes.js';
import { parseDeviceConnectionString, type DeviceConnectionString } from '../../shared/connection-string.js';
import { CONTROL_PROTOCOL_VERSION, MAX_ANNOUNCED_SERVICES, decodeControlMessage, encodeControlMessage, type StreamRequestMessage } from '../../shared/control-protocol.js';
import { DsError } from '../../shared/errors.js';
import { createSasToken, deviceResource } from '../../shared/sas.js';
import { connectBridge, connectResumableBridge, connectWebSocket } from '../../shared/ws-connect.js';
import { postJson } from '../../shared/http-json.js';
import { proxyFor, type ProxySetting } from '../../shared/proxy.js';
import { backoffDelay } from './backoff.js';


/**
 * Said in every hello of every client of this process: the hub tells a new agent process (a
 * restart) from this one, whose streams go on across its reconnections and across clients it
 * closes and makes again.
 */
const PROCESS_INSTANCE = randomUUID();
export interface DeviceClientOptions {
  /** PEM of the CA that signed the hub's certificate (the hub's own CA by default setup). */
  ca?: string | Buffer | undefined;
  /** Base URL of the hub, default `wss://{HostName}`; `ws://` only against a hub run with --insecure. */
  hubUrl?: string | undefined;
  /** Names this agent to the hub. */
  agent?: string;
  /** The stream names it serves, told to the hub so the console offers only those. */
  services?: readonly string[];
  /** SAS token lifetime; renewed at 80 %. Default one hour. */
  tokenTtlSeconds?: number;
  /** Reconnect backoff: first delay and cap. Defaults 500 ms and 30 s. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /**
   * Stream protocol v2 (half-close, resume) for the streams whose initiator asked for it; default
   * true. False answers every stream as v1, as agents before v2 did: a lost connection ends it.
   */
  resumable?: boolean;
  /**
   * An HTTP proxy for every connection to the hub (`http://[user:password@]host:port`); default
   * from HTTPS_PROXY / NO_PROXY; false: never a proxy.
   */
  proxy?: string | false | undefined;
}

/** A stream the hub asks this device to accept. Call exactly one of accept() or reject(). */
export interface StreamRequest {
  readonly streamId: string;
  readonly streamName: string;
  /** Tells the hub yes and connects the device side; resolves with the stream. */
  accept(): Promise<Duplex>;
  /** Tells the hub no, with a reason the initiator will see. */
  reject(reason: string): void;
}

export type StreamRequestHandler = (request: StreamRequest) => void | Promise<unknown>;

export interface DeviceClient extends EventEmitter {
  readonly deviceId: string;
  readonly connected: boolean;
  onStreamRequest(handler: StreamRequestHandler): void;
  /** Starts connecting; resolves once the first connection is up (keeps retrying until then). */
  open(): Promise<void>;
  /** Stops reconnecting and closes the control channel. Streams already open go on. */
  close(): void;
}

interface Options {
  ca: string | Buffer | undefined;
  hubUrl: string;
  agent: string;
  services: readonly string[] | undefined;
  tokenTtlSeconds: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  resumable: boolean;
  proxy: ProxySetting;
}

class DeviceClientImpl extends EventEmitter implements DeviceClient {
  readonly #cs: DeviceConnectionString;
  readonly #o: Options;
  #handler: StreamRequestHandler | undefined;
  #ws: WebSocket | undefined;
  #closed = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #connecting = false;
  #firstOpen: { resolve: () => void } | undefined;

  constructor(connectionString: string, options: DeviceClientOptions) {
    super();
    this.#cs = parseDeviceConnectionString(connectionString);
    this.#o = {
      ca: options.ca,
      hubUrl: (options.hubUrl ?? `wss://${this.#cs.hostName}`).replace(/^http/, 'ws').replace(/\/+$/, ''),
      agent: options.agent ?? 'devicestreams-sdk',
      services: options.services,
      tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
      backoffBaseMs: options.backoffBaseMs ?? 500,
      backoffCapMs: options.backoffCapMs ?? 30_000,
      resumable: options.resumable ?? true,
      proxy: options.proxy,
    };
  }

  get deviceId(): string {
    return this.#cs.deviceId;
  }

  get connected(): boolean {
    return this.#ws !== undefined;
  }

  onStreamRequest(handler: StreamRequestHandler): void {
    this.#handler = handler;
  }

  open(): Promise<void> {
    this.#closed = false;
    const p = new Promise<void>((resolve) => {
      this.#firstOpen = { resolve };
    });
    void this.#connect();
    return p;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#watchdog);
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.close(1000, 'device client closed');
  }

  #token(): { token: string; expiry: number } {
    const expiry = Math.floor(Date.now() / 1000) + this.#o.tokenTtlSeconds;
    return { token: createSasToken({ resource: deviceResource(this.#cs.hostName, this.#cs.deviceId), key: this.#cs.sharedAccessKey, expiry }), expiry };
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#connecting) return;
    this.#connecting = true;
    const { token } = this.#token();
    const url = `${this.#o.hubUrl}/devices/${encodeURIComponent(this.#cs.deviceId)}/control`;
    let ws: WebSocket;
    try {
      ws = await connectWebSocket(url, { headers: { authorization: token }, ca: this.#o.ca, maxPayload: 64 * 1024, proxy: proxyFor(url, this.#o.proxy) });
    } catch (err) {
      this.#connecting = false;
      this.emit('connectError', err instanceof Error ? err : new Error(String(err)));
      this.#scheduleRetry();
      return;
    }
    this.#connecting = false;
    if (this.#closed) {
      ws.resume();
      ws.close(1000);
      return;
    }
    const previous = this.#ws;
    this.#ws = ws;
    this.#attempt = 0;
    // Watch the path from the start (until the welcome names the hub's interval, assume 15 s).
    this.#armWatchdog(this.#watchdogMs === 0 ? 15_000 : (this.#watchdogMs - 1000) / 2);
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const decoded = decodeControlMessage((data as Buffer).toString('utf8'));
      if (!decoded.ok) {
        this.emit('protocolError', new Error(decoded.error));
        return;
      }
      const msg = decoded.value;
      if (msg.type === 'welcome') {
        this.#armWatchdog(msg.heartbeatIntervalMs);
        // Connected once the hub says so: it has then recorded the connection in its store, so
        // whoever asks any node of a cluster finds this device online.
        if (this.#ws === ws) {
          this.emit('connected');
          this.#firstOpen?.resolve();
          this.#firstOpen = undefined;
        }
      } else if (msg.type === 'streamRequest') this.#dispatch(ws, msg);
    });
    ws.on('ping', () => this.#feedWatchdog());
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString('utf8')));
    ws.resume();
    ws.send(encodeControlMessage({ type: 'hello', protocol: CONTROL_PROTOCOL_VERSION, agent: this.#o.agent, instance: PROCESS_INSTANCE, ...(this.#o.services === undefined ? {} : { services: [...this.#o.services].slice(0, MAX_ANNOUNCED_SERVICES) }) }));
    // The old channel (if this is a renewal) is replaced at the hub; close our end too.
    previous?.close(1000, 'renewed');
    this.#renewTimer = setTimeout(() => void this.#connect(), this.#o.tokenTtlSeconds * 800);
    this.#renewTimer.unref();
  }

  #watchdogMs = 0;

  #armWatchdog(heartbeatMs: number): void {
    this.#watchdogMs = heartbeatMs * 2 + 1000;
    this.#feedWatchdog();
  }

  /** No ping from the hub for two heartbeat intervals means the path is dead: drop and reconnect. */
  #feedWatchdog(): void {
    if (this.#watchdogMs === 0) return;
    clearTimeout(this.#watchdog);
    const ws = this.#ws;
    this.#watchdog = setTimeout(() => {
      this.emit('heartbeatTimeout');
      ws?.terminate();
    }, this.#watchdogMs);
    this.#watchdog.unref();
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.#ws !== ws) return; // a replaced (renewed) channel
    this.#ws = undefined;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#watchdog);
    this.emit('disconnected', code, describeClose(code, reason));
    if (code === CloseCode.Replaced) {
      // Another process connected with this device's identity: retry only at the slowest pace,
      // so two copies of an agent do not keep knocking each other off.
      this.#attempt = 30;
      this.emit('replaced');
    } else if (code === CloseCode.DeviceRevoked) {
      // Disabled or deleted on the hub: it may be enabled (or made again with the same key) one
      // day, so the client keeps trying, at the slowest pace.
      this.#attempt = 30;
      this.emit('revoked');
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    const delay = backoffDelay(this.#attempt, { baseMs: this.#o.backoffBaseMs, capMs: this.#o.backoffCapMs });
    this.#attempt += 1;
    this.emit('reconnecting', delay);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
  }

  #dispatch(ws: WebSocket, msg: StreamRequestMessage): void {
    let answered = false;
    const answer = (accepted: boolean, reason?: string): void => {
      if (answered) throw new Error('stream request already answered');
      answered = true;
      if (ws.readyState === ws.OPEN) {
        ws.send(encodeControlMessage({ type: 'streamResponse', requestId: msg.requestId, accepted, ...(reason === undefined ? {} : { reason: reason.slice(0, 500) }) }));
      }
    };
    const request: StreamRequest = {
      streamId: msg.requestId,
      streamName: msg.streamName,
      accept: async () => {
        answer(true);
        const resume = this.#o.resumable ? msg.resume : undefined;
        const via = (u: string): URL | undefined => proxyFor(u, this.#o.proxy);
        if (resume === undefined) return connectBridge(msg.url, msg.authToken, this.#o.ca, via(msg.url));
        // A resumable stream: after a lost leg, this side asks the hub for a new one with its key.
        const base = this.#o.hubUrl.replace(/^ws/, 'http');
        return connectResumableBridge(msg.url, msg.authToken, this.#o.ca, {
          proxyFor: via,
          windowMs: resume.windowMs,
          requestLeg: async () =>
            (await postJson(`${base}/streams/${encodeURIComponent(msg.requestId)}/resume`, { authorization: this.#token().token }, { side: 'device', key: resume.key }, { ca: this.#o.ca, proxy: via(base) })) as { url: string; authToken: string },
          abandonLeg: async (reason) => {
            await postJson(`${base}/streams/${encodeURIComponent(msg.requestId)}/abandon`, { authorization: this.#token().token }, { side: 'device', key: resume.key, reason }, { ca: this.#o.ca, proxy: via(base) });
          },
        });
      },
      reject: (reason) => answer(false, reason),
    };
    const handler = this.#handler;
    if (handler === undefined) {
      request.reject('this device accepts no streams');
      return;
    }
    Promise.resolve()
      .then(() => handler(request))
      .catch((err: unknown) => {
        this.emit('streamError', err, msg.streamName);
        if (!answered) request.reject(err instanceof DsError || err instanceof Error ? err.message : 'device error');
      });
  }
}

/** Creates a device client from a device connection string. Throws DsError if it is malformed. */
export function createDeviceClient(connectionString: string, options: DeviceClientOptions = {}): DeviceClient {
  return new DeviceClientImpl(connectionString, options);
}
