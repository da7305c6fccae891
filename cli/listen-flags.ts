/**
 * `--listen` and `--insecure-tcp` of the device's own servers (shell-server, file-server): a
 * private Unix socket by default, TCP only when asked for in so many words, and the messages
 * around binding — defined once for both.
 */
import { resolve } from 'node:path';
import { isSocketAddress, type ListenAddress, type ListenTarget } from '../device/listen.js';
import { CliError, logLine, parseHostPort } from './args.js';

export const LISTEN_FLAGS = {
  listen: { type: 'string' },
  'insecure-tcp': { type: 'boolean' },
} as const;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Where the flags say to listen (`defaultSocket` when --listen is not given). `risk` says what any
 * local user could do through a TCP port ("open a shell"), for the refusal without --insecure-tcp.
 */
export function listenTargetFromFlags(values: { listen?: string | undefined; 'insecure-tcp'?: boolean | undefined }, defaultSocket: string, risk: string): ListenTarget & { text: string } {
  const text = values.listen ?? `unix:${defaultSocket}`;
  if (text.startsWith('unix:')) return { socketPath: resolve(text.slice(5)), host: '127.0.0.1', port: 0, text };
  if (values['insecure-tcp'] !== true) {
    throw new CliError(`--listen ${text}: a TCP port lets any local user ${risk}; use --listen unix:PATH, or add --insecure-tcp if nobody else runs on this machine`, 2);
  }
  return { ...parseHostPort(text, '--listen'), text };
}

/** The CliError for a failed listen on `target`. */
export function listenFailure(err: unknown, target: ListenTarget & { text: string }): CliError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new CliError(`${target.text} is in use; pick another --listen`);
  if (code === 'EADDRNOTAVAIL') return new CliError(`${target.host} is not an address of this machine; check --listen`);
  if (code === 'EACCES') return new CliError(`not allowed to create ${target.text}; run as a user who may, or pick another --listen unix:PATH`);
  return new CliError(err instanceof Error ? err.message : String(err));
}

/** `unix:PATH` or `HOST:PORT` for the bound address; logs the warning a TCP listener deserves (`gets` what a connection gets: "a shell"). */
export function describeListening(bound: ListenAddress, gets: string): string {
  if (isSocketAddress(bound)) return `unix:${bound.path}`;
  if (!LOOPBACK.test(bound.address)) logLine(`warning: listening on ${bound.address}, not loopback: anyone who can reach it gets ${gets}`);
  else logLine(`warning: listening on TCP (--insecure-tcp): any local user who connects gets ${gets}`);
  return `${bound.address}:${bound.port}`;
}
