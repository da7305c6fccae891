/**
 * The device's shell server: a listener where every connection gets its own shell on its own PTY
 * and speaks the terminal protocol (shared/terminal-protocol.ts). The agent maps a stream name to
 * it, so an operator's browser reaches it end to end through a stream. It has no authentication of
 * its own — the hub authorises the stream — so only the agent may reach it: by default it listens
 * on a Unix socket in a directory only its own user can enter (0700), which keeps other local
 * users out (a loopback TCP port would give any of them a shell). Shells may run as another,
 * unprivileged account (`user`).
 *
 * Everything is bounded: the frame decoder (one frame), output (the PTY is not read while the
 * client says PAUSE or the socket reports backpressure), input (the socket is not read while the
 * shell's unread keystrokes pass a high-water mark), sessions (`maxSessions`), and every wait
 * (HELLO, EXIT delivery, SIGHUP → SIGKILL). See shell/session.ts for the flow control.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { ShellUser } from './shell/run-as.js';
import { ShellSession } from './shell/session.js';
import { listenOnPrivateSocket } from './shell/private-socket.js';

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
  /** Connections beyond this many are closed at once. Default 32. */
  maxSessions?: number;
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
export type ShellServerAddress = AddressInfo | { path: string };

/** True for a Unix socket address. */
export function isSocketAddress(a: ShellServerAddress): a is { path: string } {
  return 'path' in a && typeof a.path === 'string';
}

export interface ShellServer<A extends ShellServerAddress = AddressInfo> {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<A>;
  /** The bound address (throws before `listen` has resolved). */
  address(): A;
  /** Connections open now, including those still waiting for HELLO. */
  readonly sessions: number;
  /** Stops accepting, hangs up every shell, and resolves when all sessions have ended. */
  close(): Promise<void>;
}

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
  log: () => undefined,
});

/** Creates a shell server; nothing listens until `listen()`. */
export function createShellServer(options: ShellServerOptions & { socketPath: string }): ShellServer<{ path: string }>;
export function createShellServer(options?: Omit<ShellServerOptions, 'socketPath'>): ShellServer<AddressInfo>;
export function createShellServer(options: ShellServerOptions): ShellServer<ShellServerAddress>;
export function createShellServer(options: ShellServerOptions = {}): ShellServer<ShellServerAddress> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ShellServerOptions;
  const o = { ...DEFAULTS, cwd: process.cwd(), user: undefined, ...given };
  const sessions = new Set<ShellSession>();
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const onConnection = (socket: Socket): void => {
    const peer = o.socketPath !== undefined ? 'unix socket' : `${socket.remoteAddress}:${socket.remotePort}`;
    if (closing !== undefined || sessions.size >= o.maxSessions) {
      o.log(`refusing connection from ${peer}: ${closing !== undefined ? 'shutting down' : `${o.maxSessions} sessions already open`}`);
      socket.destroy();
      return;
    }
    const session = new ShellSession(socket, `session ${nextId++} (${peer})`, o);
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  };
  const server = createServer({ noDelay: true }, onConnection);

  return {
    async listen() {
      if (o.socketPath !== undefined) {
        await listenOnPrivateSocket(server, o.socketPath);
      } else {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(o.port, o.host, () => {
            server.removeListener('error', reject);
            resolve();
          });
        });
      }
      server.on('error', (err) => o.log(`shell server: ${err.message}`));
      return this.address();
    },
    address() {
      if (o.socketPath !== undefined && server.listening) return { path: o.socketPath };
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('the shell server is not listening');
      return a;
    },
    get sessions() {
      return sessions.size;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sessions) s.terminate();
        await Promise.all([...sessions].map((s) => s.closed));
        await stopped;
      })();
      return closing;
    },
  };
}
