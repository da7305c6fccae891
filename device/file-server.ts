/**
 * The device's file server: a listener where every connection copies one file in or out of a
 * root directory with the file protocol (shared/file-protocol.ts). The agent maps a stream name
 * (`files`) to it. Like the shell server it has no authentication of its own — the hub authorises
 * the stream — so it listens on a private Unix socket by default (device/listen.ts).
 *
 * Bounded: the header line (MAX_HEADER_BYTES) and the wait for it, file sizes (`maxFileSize`),
 * connections at once, and the memory of a transfer (a few MiB whatever the file's size).
 */
import { realpathSync, statSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { HeaderError, decodeRequest, encodeHeader, readHeaderLine } from '../shared/file-protocol.js';
import { boundAddress, listenAt, type ListenAddress } from './listen.js';
import { FileError } from './files/root-path.js';
import { receiveFile, sendFile } from './files/transfer.js';

export interface FileServerOptions {
  /** The directory every path is relative to; nothing outside it is read or written. */
  root: string;
  /** Listen on this Unix socket (its directory private to this user, see device/listen.ts). Wins over host/port. */
  socketPath?: string | undefined;
  /** TCP address when there is no socketPath. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Largest file sent or accepted, in bytes. Default DEFAULT_MAX_FILE_SIZE. */
  maxFileSize?: number;
  /** Connections served at once; more are dropped. Default 16. */
  maxConnections?: number;
  /** A connection must send its header within this. Default 30 000 ms. */
  headerTimeoutMs?: number;
  /** One line per transfer and failure. Default: discard. */
  log?: (line: string) => void;
}

export interface FileServer {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<ListenAddress>;
  /** The bound address (throws before `listen` has resolved). */
  address(): ListenAddress;
  /** Transfers in progress. */
  readonly active: number;
  /** Stops accepting, ends transfers in progress (their temporary files removed), resolves when done. */
  close(): Promise<void>;
}

/** 4 GiB. */
export const DEFAULT_MAX_FILE_SIZE = 4 * 1024 ** 3;

const DEFAULTS = Object.freeze({ host: '127.0.0.1', port: 0, maxFileSize: DEFAULT_MAX_FILE_SIZE, maxConnections: 16, headerTimeoutMs: 30_000, log: (_line: string): void => undefined });

/** Creates a file server on `options.root` (which must be a directory); nothing listens until `listen()`. */
export function createFileServer(options: FileServerOptions): FileServer {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FileServerOptions;
  const o = { ...DEFAULTS, ...given };
  if (!statSync(o.root).isDirectory()) throw new Error(`${o.root} is not a directory`);
  const root = realpathSync(o.root);
  const transfer = { root, maxFileSize: o.maxFileSize };
  const sockets = new Set<Socket>();
  let next = 1;

  const serve = async (socket: Socket, label: string): Promise<void> => {
    let line: string;
    const timer = setTimeout(() => socket.destroy(), o.headerTimeoutMs);
    try {
      line = await readHeaderLine(socket);
    } catch (err) {
      o.log(`${label}: ${err instanceof HeaderError ? err.message : 'connection failed before its header'}`);
      socket.destroy();
      return;
    } finally {
      clearTimeout(timer);
    }
    const request = decodeRequest(line);
    if (request === undefined) {
      socket.end(encodeHeader({ type: 'error', code: 'bad-request', message: 'not a file protocol request this server knows' }));
      return;
    }
    const started = Date.now();
    try {
      if (request.op === 'get') {
        const size = await sendFile(socket, transfer, request.path);
        o.log(`${label}: sent ${request.path} (${size} bytes) in ${Date.now() - started} ms`);
      } else {
        await receiveFile(socket, transfer, request.path, request.size);
        socket.end(encodeHeader({ type: 'done', size: request.size }));
        o.log(`${label}: received ${request.path} (${request.size} bytes) in ${Date.now() - started} ms`);
      }
    } catch (err) {
      const failure = err instanceof FileError ? err : new FileError('io-error', err instanceof Error ? err.message : String(err));
      o.log(`${label}: ${request.op} ${request.path} failed: ${failure.code}: ${failure.message}`);
      if (socket.writable) {
        socket.end(encodeHeader({ type: 'error', code: failure.code, message: failure.message }));
        // Whatever the client still sends is read and dropped until it hangs up.
        socket.resume();
      }
    }
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const label = `transfer ${next++}`;
    sockets.add(socket);
    socket.on('error', (err) => o.log(`${label}: ${err.message}`));
    socket.once('close', () => sockets.delete(socket));
    void serve(socket, label);
  });
  server.maxConnections = o.maxConnections;
  const target = { socketPath: o.socketPath, host: o.host, port: o.port };

  return {
    listen: () => listenAt(server, target, 'file server', o.log),
    address: () => boundAddress(server, target, 'file server'),
    get active() {
      return sockets.size;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
