/** Argument parsing and the CLI's error and output conventions. */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DsError } from '../shared/errors.js';
import { oneLine } from '../shared/log-text.js';
import { noteCaSource, trustHint } from './tls-hints.js';

/** A failure the user can fix; printed as one line, exit code 2 for usage, 1 otherwise. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv strictly; unknown flags and missing values are usage errors that name the flag. */
export function parse<O extends Options>(argv: string[], options: O, help: string): ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true; args: string[] }>> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help.trimStart());
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message.split('\n')[0] : String(err)} (see --help)`, 2);
  }
}

/**
 * Reads the CA file given by --ca or DEVICESTREAMS_CA; undefined when neither is set. A file with
 * no PEM certificate in it is refused here: TLS would take it silently and trust nothing.
 */
export function readCa(file: string | undefined): string | undefined {
  const path = file ?? process.env.DEVICESTREAMS_CA;
  if (path === undefined || path === '') return undefined;
  const source = file === undefined ? 'DEVICESTREAMS_CA' : '--ca';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read CA file ${path} (${source}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 2);
  }
  checkPemCertificates(text, `CA file ${path} (${source})`);
  noteCaSource(`${path} (${source})`);
  return text;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A usage error naming `what` unless `text` holds at least one PEM certificate and each one parses. */
export function checkPemCertificates(text: string, what: string): void {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new CliError(`${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA that signed the hub's certificate, e.g. DATA-DIR/tls/ca.pem from the hub`, 2);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new CliError(`${what} holds a PEM certificate that does not parse; give the CA that signed the hub's certificate, e.g. DATA-DIR/tls/ca.pem from the hub`, 2);
    }
  }
}

/**
 * A URL flag checked before anything is sent: one of `schemes` (e.g. ['https:', 'http:']) with a
 * host, else a usage error that shows the expected `form` (`localhost:8461` alone would be read as a
 * URL of scheme "localhost:").
 */
export function urlFlag(value: string | undefined, flag: string, schemes: readonly string[], form: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url !== undefined && schemes.includes(url.protocol) && url.hostname !== '') return value;
  const guess = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? '' : `; did you mean ${schemes[0] ?? 'https:'}//${value}?`;
  throw new CliError(`${flag} "${value}" is not a URL this command can use: give it as ${form}${guess}`, 2);
}

/** The service connection string from --hub-connection-string or IOTHUB_CONNECTION_STRING. */
export function hubConnectionString(flag: string | undefined): string {
  const cs = flag ?? process.env.IOTHUB_CONNECTION_STRING;
  if (cs === undefined || cs === '') {
    throw new CliError('no hub connection string: pass --hub-connection-string or set IOTHUB_CONNECTION_STRING (the hub printed it on first start)', 2);
  }
  return cs;
}

/** Parses HOST:PORT (IPv6 in brackets). */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (m === null) throw new CliError(`${flag} must be HOST:PORT, for example 127.0.0.1:2222`, 2);
  const port = Number(m[2]);
  if (port > 65535) throw new CliError(`${flag}: port must be 0-65535`, 2);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** The absolute path of a flag's directory; a usage error naming the flag when it is not one. */
export function directoryFlag(dir: string, flag: string): string {
  const abs = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDir) throw new CliError(`${flag} ${dir} is not a directory`, 2);
  return abs;
}

/** A number flag within bounds. */
export function numberFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`${flag} must be a number from ${min} to ${max}`, 2);
  return n;
}

/** One line for an error, with its stable code when it has one and what to do about a TLS trust failure. */
export function describeError(err: unknown): string {
  if (err instanceof DsError) return `${err.message} (${err.code})`;
  const text = err instanceof Error ? err.message : String(err);
  const hint = trustHint(err);
  return hint === undefined ? text : `${text}; ${hint}`;
}

/** Log line to stderr with a timestamp. */
export function logLine(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${oneLine(line)}\n`);
}
