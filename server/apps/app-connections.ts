/**
 * The hub's connections to device services: each is a stream initiated for the operator (so the
 * stream log names them), wrapped in TLS for a service that speaks it (`https`, `https-*`; the
 * device's own certificate is not verified — devices serve self-signed ones — the stream itself is
 * what is authenticated). HTTP requests share keep-alive connections per app session through an
 * http.Agent whose sockets are streams; WebSockets get one each. Bounded per app session and in
 * total; each connection ends when its console session ends or its operator's role changes.
 */
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ServiceClient } from '../sdk/service-client.js';
import type { SessionSockets } from '../bff/session-sockets.js';
import type { AppGrant } from './app-tokens.js';

export interface AppConnectionLimits {
  /** Streams open (or being opened) for apps on this node. Default 256. */
  total: number;
  /** Keep-alive HTTP connections per app session (device, service, console session). Default 6. */
  httpPerApp: number;
  /** Requests waiting for one of those. Default 64. */
  queuedPerApp: number;
  /** WebSockets per app session. Default 16. */
  webSocketsPerApp: number;
}

export const DEFAULT_APP_LIMITS: AppConnectionLimits = { total: 256, httpPerApp: 6, queuedPerApp: 64, webSocketsPerApp: 16 };

/** A limit was reached: the request is answered 503 with this sentence. */
export class AppBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppBusyError';
  }
}

export interface AppConnectionsOptions {
  service: ServiceClient;
  sockets: SessionSockets;
  limits?: Partial<AppConnectionLimits>;
  /** Wait for an offline device to connect (default 5 s: an offline device is said so soon). */
  connectTimeoutSeconds?: number;
  /** Wait for the device's answer (default 15 s). */
  responseTimeoutSeconds?: number;
  /** An idle keep-alive connection closes after this (default 15 s). */
  idleMs?: number;
}

/** True for service names whose device end speaks TLS itself. */
export function speaksTls(service: string): boolean {
  return service === 'https' || service.startsWith('https-');
}

function appKey(g: AppGrant): string {
  return `${g.sessionKey}\n${g.deviceId}\n${g.service}`;
}

class StreamAgent extends Agent {
  readonly #open: () => Promise<Duplex>;
  readonly #idleMs: number;
  readonly #idle = new WeakMap<Duplex, NodeJS.Timeout>();

  constructor(open: () => Promise<Duplex>, maxSockets: number, idleMs: number) {
    super({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
    this.#open = open;
    this.#idleMs = idleMs;
  }

  // The agent accepts a socket handed to the callback later (Node's createSocket: `if (newSocket) …`).
  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, socket: Duplex) => void): Duplex {
    this.#open().then((s) => callback?.(null, s), (err: unknown) => callback?.(err instanceof Error ? err : new Error(String(err)), undefined as unknown as Duplex));
    return undefined as unknown as Duplex;
  }

  // A stream is no TCP socket (no setKeepAlive/unref); idle ones are closed by a timer of our own.
  override keepSocketAlive(socket: Duplex): boolean {
    this.#idle.set(socket, setTimeout(() => socket.destroy(), this.#idleMs).unref());
    return true;
  }

  override reuseSocket(socket: Duplex): void {
    clearTimeout(this.#idle.get(socket));
  }

  /** Requests waiting for a connection. */
  get queued(): number {
    let n = 0;
    for (const list of Object.values(this.requests)) n += list?.length ?? 0;
    return n;
  }
}

export class AppConnections {
  readonly #o: AppConnectionsOptions;
  readonly #limits: AppConnectionLimits;
  readonly #agents = new Map<string, StreamAgent>();
  readonly #webSockets = new Map<string, number>();
  readonly #live = new Set<Duplex>();
  #opening = 0;

  constructor(o: AppConnectionsOptions) {
    this.#o = o;
    this.#limits = { ...DEFAULT_APP_LIMITS, ...o.limits };
  }

  /** Streams open or being opened for apps now. */
  get size(): number {
    return this.#live.size + this.#opening;
  }

  /** The keep-alive agent for HTTP requests of this app session; throws AppBusyError when its queue is full. */
  agentFor(g: AppGrant): Agent {
    const key = appKey(g);
    let agent = this.#agents.get(key);
    // Agents whose every connection failed to open never saw a close: drop the idle ones now and then.
    if (agent === undefined && this.#agents.size >= 1024) for (const k of [...this.#agents.keys()]) this.#forgetIdleAgent(k);
    if (agent === undefined) {
      const a = new StreamAgent(() => this.open(g), this.#limits.httpPerApp, this.#o.idleMs ?? 15_000);
      this.#agents.set(key, a);
      agent = a;
    }
    if (agent.queued >= this.#limits.queuedPerApp) throw new AppBusyError(`this app already has ${agent.queued} requests waiting for the device; try again shortly`);
    return agent;
  }

  /** A stream for one WebSocket of this app session; throws AppBusyError at the per-app limit. */
  async openWebSocket(g: AppGrant): Promise<Duplex> {
    const key = appKey(g);
    const n = this.#webSockets.get(key) ?? 0;
    if (n >= this.#limits.webSocketsPerApp) throw new AppBusyError(`this app already has ${n} WebSockets open (the most one app may have)`);
    this.#webSockets.set(key, n + 1);
    const release = (): void => {
      const left = (this.#webSockets.get(key) ?? 1) - 1;
      if (left <= 0) this.#webSockets.delete(key);
      else this.#webSockets.set(key, left);
    };
    try {
      const s = await this.open(g);
      s.once('close', release);
      return s;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Opens one stream to the device's service for the operator (TLS inside it when the service speaks it). */
  async open(g: AppGrant): Promise<Duplex> {
    if (this.size >= this.#limits.total) throw new AppBusyError(`the console has ${this.size} app connections open, the most it allows; try again shortly`);
    this.#opening++;
    let raw: Duplex;
    try {
      raw = await this.#o.service.initiateStream(g.deviceId, g.service, {
        connectTimeoutSeconds: this.#o.connectTimeoutSeconds ?? 5,
        responseTimeoutSeconds: this.#o.responseTimeoutSeconds ?? 15,
        operator: g.operator,
      });
    } finally {
      this.#opening--;
    }
    raw.on('error', () => undefined);
    const socket: Duplex = speaksTls(g.service) ? tlsConnect({ socket: raw, rejectUnauthorized: false }) : raw;
    if (socket !== raw) {
      socket.once('close', () => raw.destroy());
      raw.once('close', () => socket.destroy());
    }
    this.#live.add(socket);
    const untrack = this.#o.sockets.track({
      sessionKey: g.sessionKey,
      operatorId: g.operatorId,
      role: g.role,
      close: () => socket.destroy(),
    });
    socket.once('close', () => {
      this.#live.delete(socket);
      untrack();
      // After the agent's own close handler has taken the socket off its lists.
      setImmediate(() => this.#forgetIdleAgent(appKey(g)));
    });
    return socket;
  }

  #forgetIdleAgent(key: string): void {
    const agent = this.#agents.get(key);
    if (agent === undefined) return;
    const lists: Array<NodeJS.ReadOnlyDict<readonly unknown[]>> = [agent.sockets, agent.freeSockets, agent.requests];
    const busy = lists.some((m) => Object.values(m).some((l) => (l?.length ?? 0) > 0));
    if (!busy) this.#agents.delete(key);
  }

  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    for (const s of this.#live) s.destroy();
  }
}
