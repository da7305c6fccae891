/**
 * Client-side TLS set-up shared by every outbound connection to the hub (control channel, stream
 * bridges, REST), node-only. Opening streams by the hundred made three per-connection costs show
 * in profiles, each removed here with a small bounded cache:
 * - a secure context per CA (building one parses the PEM and a fresh X509 store),
 * - the latest TLS session per server, so a new connection resumes instead of a full handshake,
 * - name resolution: `localhost`/a hub name resolved once per few seconds, not once per socket.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type ConnectionOptions, type SecureContext } from 'node:tls';

const MAX_CONTEXTS = 16;
const MAX_SESSIONS = 256;
const MAX_NAMES = 64;
/** How long a resolved address is reused. Short: a hub moving to a new address is seen quickly. */
const NAME_TTL_MS = 5_000;

interface SessionSetter {
  setSession(session: Buffer): void;
}

/** `setSession` is the method tls.connect itself uses; not in Node's typings, so it is looked for once. */
const CAN_SET_SESSION = typeof (TLSSocket.prototype as Partial<SessionSetter>).setSession === 'function';

const contexts = new Map<string, SecureContext>();
const sessions = new Map<string, Buffer>();
const names = new Map<string, { at: number; addresses: LookupAddress[] }>();

/** Inserts as newest; drops the oldest entry past `max`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/** One secure context per CA PEM; `undefined` (the system store) when no CA is given. */
export function secureContextFor(ca: string | Buffer | undefined): SecureContext | undefined {
  if (ca === undefined) return undefined;
  const key = ca.toString();
  let ctx = contexts.get(key);
  if (ctx === undefined) {
    ctx = createSecureContext({ ca });
    remember(contexts, key, ctx, MAX_CONTEXTS);
  }
  return ctx;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * `dns.lookup` with a few seconds of memory for successful answers (the signature `net.connect`
 * expects of its `lookup` option). Failures are never cached.
 */
export function cachedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  const key = `${hostname}/${String(options.family ?? 0)}/${String(options.hints ?? 0)}`;
  const hit = names.get(key);
  const answer = (addresses: LookupAddress[]): void => {
    if (options.all === true) callback(null, addresses);
    else callback(null, addresses[0]?.address ?? '', addresses[0]?.family);
  };
  if (hit !== undefined && Date.now() - hit.at < NAME_TTL_MS) {
    process.nextTick(answer, hit.addresses);
    return;
  }
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) {
      callback(err, '');
      return;
    }
    remember(names, key, { at: Date.now(), addresses }, MAX_NAMES);
    answer(addresses);
  });
}

const contextIds = new WeakMap<SecureContext, number>();
let lastContextId = 0;

/**
 * What a connection's server certificate is checked against, as part of its session's key: a
 * session made under one CA is never resumed by a connection that trusts another (resuming skips
 * the check). Undefined when the certificate is not checked, or the trust is not one we can name.
 */
function trustOf(options: ConnectionOptions): string | undefined {
  if (options.rejectUnauthorized === false) return undefined;
  const ctx = options.secureContext;
  if (ctx === undefined) return options.ca === undefined ? 'system' : undefined;
  let id = contextIds.get(ctx);
  if (id === undefined) {
    id = ++lastContextId;
    contextIds.set(ctx, id);
  }
  return `ctx${id}`;
}

/**
 * `tls.connect` that resumes the last session with the same server and resolves through the cache.
 *
 * The session is set on the socket after `tls.connect` returns, not passed as its `session` option:
 * Node 20 decodes an option's session twice (once building the socket, once more in `connect`),
 * and with OpenSSL 3.0 each decoding costs about a quarter of a millisecond (it parses the server's
 * certificate kept in it) — a fifth of a resumed connection's client-side CPU. The handshake starts
 * only once the TCP connection is up, so the session is in place before the first byte.
 */
export function resumingTlsConnect(options: ConnectionOptions): TLSSocket {
  const servername = options.servername ?? (isIP(options.host ?? '') !== 0 ? '' : options.host);
  const trust = trustOf(options);
  // A resumed session skips the certificate check: unverified connections neither leave one nor take one.
  if (trust === undefined) return tlsConnect({ ...options, path: undefined, servername, lookup: cachedLookup });
  const key = `${options.host ?? ''}:${options.port ?? ''}:${servername ?? ''}:${trust}`;
  const session = sessions.get(key);
  // Over a socket that is already connected the handshake starts inside tls.connect: pass it there.
  const late = options.socket === undefined && CAN_SET_SESSION;
  const socket = tlsConnect({ ...options, path: undefined, servername, session: late ? undefined : session, lookup: cachedLookup });
  if (late && session !== undefined) (socket as unknown as SessionSetter).setSession(session);
  socket.on('session', (s: Buffer) => remember(sessions, key, s, MAX_SESSIONS));
  return socket;
}
