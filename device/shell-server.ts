/**
 * The device's shell server: a listener where every connection speaks the terminal protocol
 * (shared/terminal-protocol.ts) and gets a shell on its own PTY. The agent maps a stream name to
 * it, so an operator's browser reaches it end to end through a stream. It has no authentication of
 * its own — the hub authorises the stream — so only the agent may reach it: by default it listens
 * on a Unix socket in a directory only its own user can enter (0700), which keeps other local
 * users out (a loopback TCP port would give any of them a shell). Shells may run as another,
 * unprivileged account (`user`).
 *
 * Sessions outlive their connections when the client asks for it (protocol version 2): the shell
 * keeps running for `detachTimeoutMs` with its recent output, and a client that names the session
 * and its secret reattaches (see shell/session.ts). A version-1 client gets a plain session that
 * ends with its connection.
 *
 * Everything is bounded: the frame decoder (one frame), output (the PTY is not read while the
 * client says PAUSE, the ACK window is full or the socket reports backpressure), input (the socket
 * is not read while the shell's unread keystrokes pass a high-water mark), the replay buffer of each
 * session, shells (`maxSessions`, detached ones included: a new session when the server is full
 * ends the session that has been detached longest, and is refused only when none is), what it
 * remembers of ended sessions, and every wait (HELLO, EXIT delivery, SIGHUP → SIGKILL, detach).
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { boundAddress, isSocketAddress, listenAt, type ListenAddress } from './listen.js';
import type { ShellUser } from './shell/run-as.js';
import { SessionCloseCode, TERMINAL_PROTOCOL_VERSION, TERMINAL_RESUMABLE_VERSION, type TerminalFrame } from '../shared/terminal-protocol.js';
import { ClientConnection } from './shell/connection.js';
import { MIN_RING_BYTES } from './shell/output-ring.js';
import { ShellSession, type SessionEnd } from './shell/session.js';

export interface ShellServerOptions {
  /**
   * Listen on this Unix socket instead of TCP. Its directory is created 0700 (or must already be
   * private to this user); a stale socket left by a dead server is replaced. Wins over host/port.
   */
  socketPath?: string;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 4022. */
  port?: number;
  /** Program started on each PTY. Default /bin/bash. */
  shell?: string;
  /** Its arguments. Default none. */
  args?: readonly string[];
  /** Its working directory. Default this process's. */
  cwd?: string;
  /** Its complete environment (TERM is set from HELLO). Default empty: pass what the shell should see. */
  env?: Readonly<Record<string, string>>;
  /** TERM when HELLO names none or an unusable one. Default xterm-256color. */
  defaultTerm?: string;
  /**
   * Shells at once, detached ones included (and connections still waiting for HELLO). A new
   * session beyond it ends the session detached longest, or is refused when none is. Default 32.
   */
  maxSessions?: number;
  /**
   * How long a resumable session (protocol version 2) keeps its shell after its connection drops;
   * 0 gives every client a plain session. At most MAX_DETACH_TIMEOUT_MS. Default 10 minutes.
   */
  detachTimeoutMs?: number;
  /** Recent output each resumable session keeps for a client that comes back. Default 1 MiB. */
  replayBufferBytes?: number;
  /** A connection must send HELLO within this. Default 10 000 ms. */
  helloTimeoutMs?: number;
  /** SIGHUP, then SIGKILL this much later, when a client leaves a running shell. Default 2000 ms. */
  killGraceMs?: number;
  /** After EXIT, a client that does not close is dropped after this. Default 5000 ms. */
  endTimeoutMs?: number;
  /** Keystrokes waiting for the shell beyond this stop reading the client. Default 1 MiB. */
  inputHighWaterBytes?: number;
  /** Start shells as this account (the server must run as root then). Default: the server's own. */
  user?: ShellUser;
  /** One line per event (session start, exit, refusal, protocol error). Default: discard. */
  log?: (line: string) => void;
}

/** Where the server listens: a TCP address, or the path of its Unix socket. */
export type ShellServerAddress = ListenAddress;
export { isSocketAddress };

export interface ShellServer<A extends ShellServerAddress = AddressInfo> {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<A>;
  /** The bound address (throws before `listen` has resolved). */
  address(): A;
  /** Shells running now (attached or detached), plus connections still waiting for HELLO. */
  readonly sessions: number;
  /** Resumable sessions without a connection now. */
  readonly detached: number;
  /** Stops accepting, hangs up every shell, and resolves when all sessions have ended. */
  close(): Promise<void>;
}

/** Longest detach timeout: a day. */
export const MAX_DETACH_TIMEOUT_MS = 24 * 3600 * 1000;
/** Largest replay buffer per session. */
export const MAX_REPLAY_BUFFER_BYTES = 64 * 1024 * 1024;
export { MIN_RING_BYTES as MIN_REPLAY_BUFFER_BYTES };
/** Ended sessions remembered (so a client coming back learns why), and for how long. */
const MAX_REMEMBERED = 256;
const REMEMBER_MS = 3600 * 1000;

/** TERM is copied into the shell's environment: accept a terminfo-style name only. */
const TERM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

const DEFAULTS: Readonly<Required<Omit<ShellServerOptions, 'cwd' | 'socketPath' | 'user'>>> = Object.freeze({
  host: '127.0.0.1',
  port: 4022,
  shell: '/bin/bash',
  args: [],
  env: {},
  defaultTerm: 'xterm-256color',
  maxSessions: 32,
  helloTimeoutMs: 10_000,
  killGraceMs: 2_000,
  endTimeoutMs: 5_000,
  inputHighWaterBytes: 1024 * 1024,
  detachTimeoutMs: 10 * 60 * 1000,
  replayBufferBytes: 1024 * 1024,
  log: () => undefined,
});

/** Creates a shell server; nothing listens until `listen()`. */
export function createShellServer(options: ShellServerOptions & { socketPath: string }): ShellServer<{ path: string }>;
export function createShellServer(options?: Omit<ShellServerOptions, 'socketPath'>): ShellServer<AddressInfo>;
export function createShellServer(options: ShellServerOptions): ShellServer<ShellServerAddress>;
export function createShellServer(options: ShellServerOptions = {}): ShellServer<ShellServerAddress> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ShellServerOptions;
  const o = { ...DEFAULTS, cwd: process.cwd(), user: undefined, ...given };
  if (!Number.isInteger(o.detachTimeoutMs) || o.detachTimeoutMs < 0 || o.detachTimeoutMs > MAX_DETACH_TIMEOUT_MS) throw new RangeError(`detachTimeoutMs must be 0 to ${MAX_DETACH_TIMEOUT_MS}`);
  if (!Number.isInteger(o.replayBufferBytes) || o.replayBufferBytes < MIN_RING_BYTES || o.replayBufferBytes > MAX_REPLAY_BUFFER_BYTES) throw new RangeError(`replayBufferBytes must be ${MIN_RING_BYTES} to ${MAX_REPLAY_BUFFER_BYTES}`);
  const connections = new Set<ClientConnection>();
  const sessions = new Set<ShellSession>();
  const byId = new Map<string, ShellSession>();
  /** Why recently ended sessions ended, in the order they ended. */
  const ended = new Map<string, SessionEnd & { at: number }>();
  let nextSession = 1;
  let nextConnection = 1;
  let closing: Promise<void> | undefined;

  const forget = (session: ShellSession, end: SessionEnd): void => {
    if (session.id === undefined) return;
    byId.delete(session.id);
    ended.set(session.id, { ...end, at: Date.now() });
    for (const id of ended.keys()) {
      if (ended.size <= MAX_REMEMBERED) break;
      ended.delete(id);
    }
  };

  /** Makes room for one more shell: ends the session detached longest; false when none is detached. */
  const makeRoom = (): boolean => {
    const live = [...sessions].filter((s) => !s.ending);
    if (live.length < o.maxSessions) return true;
    let oldest: ShellSession | undefined;
    for (const s of live) if (s.detachedAt !== undefined && (oldest?.detachedAt === undefined || s.detachedAt < oldest.detachedAt)) oldest = s;
    if (oldest === undefined) return false;
    o.log(`${oldest.label}: ending it to make room for a new session (${o.maxSessions} at most)`);
    oldest.endNow({ code: SessionCloseCode.Ended, message: `The session was ended to make room for a new one (this device allows ${o.maxSessions} at once) after it had been detached the longest.` });
    return true;
  };

  const onHello = (conn: ClientConnection, hello: Extract<TerminalFrame, { type: 'hello' }>): void => {
    if (hello.version !== TERMINAL_PROTOCOL_VERSION && hello.version !== TERMINAL_RESUMABLE_VERSION) {
      conn.fail(`unsupported protocol version ${hello.version} (this server speaks ${TERMINAL_PROTOCOL_VERSION} and ${TERMINAL_RESUMABLE_VERSION})`);
      return;
    }
    if (hello.cols < 1 || hello.rows < 1) {
      conn.fail(`terminal size ${hello.cols}x${hello.rows} is out of range`);
      return;
    }
    const want = hello.session ?? { mode: 'new' as const };
    if (want.mode === 'new') {
      if (closing !== undefined) {
        conn.fail('shutting down');
        return;
      }
      if (!makeRoom()) {
        if (hello.version === TERMINAL_RESUMABLE_VERSION) conn.close(SessionCloseCode.Full, `This device already runs ${o.maxSessions} terminal sessions, all of them attached; close one first.`);
        else conn.fail(`${o.maxSessions} sessions already open`);
        return;
      }
      const resumable = hello.version === TERMINAL_RESUMABLE_VERSION && o.detachTimeoutMs > 0;
      const session = new ShellSession(`session ${nextSession++}`, resumable, o, (end) => forget(session, end));
      const term = TERM_PATTERN.test(hello.term) ? hello.term : o.defaultTerm;
      try {
        session.start(conn, { term, cols: hello.cols, rows: hello.rows });
      } catch (err) {
        conn.fail(`cannot start ${o.shell}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      sessions.add(session);
      if (session.id !== undefined) byId.set(session.id, session);
      void session.closed.then(() => sessions.delete(session));
      return;
    }
    const session = byId.get(want.sessionId);
    if (session === undefined) {
      const why = ended.get(want.sessionId);
      if (why !== undefined && Date.now() - why.at < REMEMBER_MS) conn.close(why.code, why.message);
      else conn.close(SessionCloseCode.Unknown, 'There is no such session on this device: it ended, or the shell server restarted since.');
      return;
    }
    if (!session.secretMatches(want.secret)) {
      conn.close(SessionCloseCode.BadSecret, 'The secret does not match this session; it was not attached.');
      return;
    }
    const ending = session.endReason;
    if (ending !== undefined) {
      conn.close(ending.code, ending.message);
      return;
    }
    if (want.mode === 'end') {
      session.endNow({ code: SessionCloseCode.Ended, message: 'The session was ended from the console.' });
      conn.close(SessionCloseCode.Ended, `${session.label}: ended on request`);
      return;
    }
    session.attach(conn, want.outputOffset, { cols: hello.cols, rows: hello.rows });
  };

  const onConnection = (socket: Socket): void => {
    const peer = o.socketPath !== undefined ? 'unix socket' : `${socket.remoteAddress}:${socket.remotePort}`;
    let waiting = 0;
    for (const c of connections) if (c.waiting) waiting += 1;
    // Connections waiting for HELLO are bounded here; shells when HELLO says what it wants.
    if (closing !== undefined || waiting >= o.maxSessions) {
      o.log(`refusing connection from ${peer}: ${closing !== undefined ? 'shutting down' : `${o.maxSessions} connections already waiting for HELLO`}`);
      socket.destroy();
      return;
    }
    const conn = new ClientConnection(socket, `connection ${nextConnection++} (${peer})`, { ...o, onHello });
    connections.add(conn);
    void conn.closed.then(() => connections.delete(conn));
  };
  const server = createServer({ noDelay: true }, onConnection);

  return {
    listen: () => listenAt(server, o, 'shell server', o.log),
    address: () => boundAddress(server, o, 'shell server'),
    get sessions() {
      let waiting = 0;
      for (const c of connections) if (c.waiting) waiting += 1;
      return sessions.size + waiting;
    },
    get detached() {
      let n = 0;
      for (const s of sessions) if (s.id !== undefined && !s.attached) n += 1;
      return n;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of connections) if (c.waiting) c.destroy();
        for (const s of sessions) s.terminate();
        await Promise.all([...sessions].map((s) => s.closed));
        // Attached clients got EXIT; their connections end when they close, or at the end timeout.
        await Promise.all([...connections].map((c) => c.closed));
        await stopped;
      })();
      return closing;
    },
  };
}
