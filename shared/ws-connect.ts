/**
 * Opening a client WebSocket to the hub (node-only): TLS with an optional CA, a bounded wait, and
 * refusals turned into the hub's own typed error (its JSON body) instead of "Unexpected server
 * response: 401".
 */
import type { createConnection } from 'node:net';
import WebSocket from 'ws';
import { DsError, ErrorCode, isErrorBody } from './errors.js';
import { MAX_FRAME_BYTES } from './limits.js';
import { answeredByHub, proxyAgent, proxyNetworkError, proxyRefusal } from './proxy.js';
import { resumingTlsConnect, secureContextFor } from './tls-client.js';
import { WebSocketDuplex } from './ws-duplex.js';
import { retryLeg } from './leg-retry.js';
import { ResumableStream, type ResumableStreamOptions } from './resumable-stream.js';
import { DEFAULT_RESUME_BUFFER_BYTES, STREAM_V2_SUBPROTOCOL } from './stream-protocol.js';

export interface ConnectOptions {
  headers: Record<string, string>;
  /** PEM of the CA to trust (the hub's own CA); the system store otherwise. */
  ca?: string | Buffer | undefined;
  timeoutMs?: number;
  maxPayload?: number;
  /** WebSocket subprotocols to offer (stream protocol v2). */
  protocols?: string[];
  /** An HTTP proxy to tunnel through (see shared/proxy.ts). */
  proxy?: URL | undefined;
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * Resolves with an open WebSocket, paused, or rejects with a DsError (refused) or a network Error.
 * Paused because the server may speak in the same packet as its 101 (a stream's first control
 * frame or data): ws would emit those messages before the caller, resuming after this promise, has
 * its listeners on. The caller attaches them, then calls `ws.resume()`.
 */
export function connectWebSocket(url: string, o: ConnectOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const secureContext = secureContextFor(o.ca);
    const ws = new WebSocket(url, o.protocols ?? [], {
      headers: o.headers,
      ...(secureContext === undefined ? {} : { secureContext }),
      // Through a proxy its agent makes the tunnel and the TLS inside it; else our own TLS connect.
      ...(o.proxy !== undefined ? { agent: proxyAgent(o.proxy) } : url.startsWith('wss:') ? { createConnection: resumingTlsConnect as unknown as typeof createConnection } : {}),
      perMessageDeflate: false,
      maxPayload: o.maxPayload ?? MAX_FRAME_BYTES,
      handshakeTimeout: o.timeoutMs ?? 15_000,
      // RFC 6455 masking keeps an intermediary that reads cleartext (a transparent caching proxy)
      // from taking payload bytes, which here come from remote programs, for HTTP of its own. Inside
      // TLS no intermediary reads them, so an all-zero mask lets both ends skip the copy-and-XOR of
      // every byte (ws recognises it on both sides); a ws:// leg (a hub run with --insecure) keeps
      // ws's random masks.
      ...(url.startsWith('wss:') ? { generateMask: zeroMask } : {}),
    });
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      settled = true;
      ws.pause();
      resolve(ws);
    });
    ws.on('error', (err) => fail(o.proxy === undefined ? err : proxyNetworkError(o.proxy, err)));
    ws.once('unexpected-response', (_req, res) => {
      const fromHub = answeredByHub(res.socket);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 16 * 1024) chunks.push(c);
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        if (isErrorBody(body)) fail(new DsError(body.errorCode as never, body.message));
        else if (o.proxy !== undefined) fail(proxyRefusal(o.proxy, res.statusCode ?? 0, fromHub) ?? new DsError(ErrorCode.InternalError, `the hub refused the connection with HTTP ${res.statusCode ?? '?'} (no DeviceStreams error in the answer: check the hub URL; a balancer or another server may be answering there)`));
        else fail(new DsError(ErrorCode.InternalError, `the server refused the connection with HTTP ${res.statusCode ?? '?'} (no DeviceStreams error in the answer: check the hub URL; a balancer or another server may be answering there)`));
      });
      res.on('error', () => fail(new DsError(ErrorCode.InternalError, `server refused the connection with HTTP ${res.statusCode ?? '?'}`)));
    });
  });
}

/** What a side needs to come back after losing its leg of a v2 stream. */
export interface ResumeOptions {
  /** Asks the hub for a new leg (POST /streams/{id}/resume with this side's key). */
  requestLeg: () => Promise<{ url: string; authToken: string }>;
  /** Tells the hub this side gives the stream up while it has no leg (POST /streams/{id}/abandon). */
  abandonLeg?: ((reason: string) => Promise<void>) | undefined;
  windowMs: number;
  bufferBytes?: number | undefined;
  onEvent?: ResumableStreamOptions['onEvent'];
  /** The HTTP proxy for a leg's URL, if any (shared/proxy.ts). */
  proxyFor?: ((url: string) => URL | undefined) | undefined;
}

/**
 * How long a side keeps trying its first leg to the streaming endpoint after network failures. The
 * endpoint holds the side that came first until the stream's tokens expire (60 s by default), so a
 * leg that comes within this still pairs; a retry after the tokens expired is refused (401), final.
 */
const FIRST_LEG_TRY_MS = 20_000;
const NETWORK_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether a failed connection to the streaming endpoint is worth another try: the network failed on
 * the way (refused, reset, timed out) or the endpoint was busy (503, 429). Not when it answered no
 * (the token, the stream) or the certificate did not verify: those do not change by waiting.
 */
function worthRetrying(err: unknown): boolean {
  if (err instanceof DsError) return err.status === 503 || err.status === 429;
  // An HTTP proxy's failure comes wrapped (shared/proxy.ts): its cause has the code.
  const e = err as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | undefined;
  const code = e?.code ?? e?.cause?.code;
  if (code !== undefined && NETWORK_FAILURES.has(code)) return true;
  return err instanceof Error && /socket hang up|Opening handshake has timed out/i.test(err.message);
}

/**
 * A side's first leg: tried again after network failures (a blip, an endpoint refusing connections
 * while busy) for FIRST_LEG_TRY_MS, on the schedule of a lost leg's retries; the last error then.
 */
async function firstLeg(open: () => Promise<WebSocket>): Promise<WebSocket> {
  const until = Date.now() + FIRST_LEG_TRY_MS;
  let last: unknown;
  const r = await retryLeg({
    reconnect: () =>
      open().catch((err: unknown) => {
        last = err;
        throw err;
      }),
    isFatal: (err) => !worthRetrying(err),
    stopped: () => Date.now() > until,
  });
  if ('leg' in r) return r.leg;
  throw 'fatal' in r ? r.fatal : last;
}

/**
 * Connects one side of a v2 stream (half-close, resume) to the streaming endpoint. With a peer
 * that does not speak v2 it behaves as a v1 stream.
 */
export async function connectResumableBridge(url: string, authToken: string, ca: string | Buffer | undefined, o: ResumeOptions): Promise<ResumableStream> {
  const open = (u: string, token: string): Promise<WebSocket> =>
    connectWebSocket(u, { headers: { authorization: `Bearer ${token}` }, ca, protocols: [STREAM_V2_SUBPROTOCOL], proxy: o.proxyFor?.(u) });
  const first = await firstLeg(() => open(url, authToken));
  return new ResumableStream(first, {
    windowMs: o.windowMs,
    bufferBytes: o.bufferBytes ?? DEFAULT_RESUME_BUFFER_BYTES,
    reconnect: async () => {
      const leg = await o.requestLeg();
      return open(leg.url, leg.authToken);
    },
    // The hub says no for good (the stream ended, the key is wrong): stop trying. Throttling,
    // unavailability and network failures are worth another try within the window.
    isFatal: (err) => err instanceof DsError && err.status >= 400 && err.status < 500 && err.status !== 429,
    ...(o.onEvent === undefined ? {} : { onEvent: o.onEvent }),
    ...(o.abandonLeg === undefined ? {} : { abandon: o.abandonLeg }),
  });
}

/** Connects one side of a stream to the streaming endpoint and returns it as a Duplex. */
export async function connectBridge(url: string, authToken: string, ca?: string | Buffer, proxy?: URL): Promise<WebSocketDuplex> {
  if (!/^wss?:\/\//.test(url)) throw new DsError(ErrorCode.ArgumentInvalid, `stream URL must be ws:// or wss://, got "${url.slice(0, 60)}"`);
  const ws = await firstLeg(() => connectWebSocket(url, { headers: { authorization: `Bearer ${authToken}` }, ca, proxy }));
  const duplex = new WebSocketDuplex(ws);
  ws.resume();
  return duplex;
}
