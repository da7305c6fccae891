/**
 * The service SDK: registry calls, the stream log, and stream initiation, over the hub's REST API
 * with a SAS token made from a service connection string (renewed before it expires).
 *
 *   const service = createServiceClient(process.env.IOTHUB_CONNECTION_STRING, { ca });
 *   const stream = await service.initiateStream('my-device', 'ssh');   // a Duplex
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { parseServiceConnectionString, type ServiceConnectionString } from '../../shared/connection-string.js';
import { DsError, ErrorCode, isErrorBody } from '../../shared/errors.js';
import { createSasToken } from '../../shared/sas.js';
import { cachedLookup, secureContextFor } from '../../shared/tls-client.js';
import { connectBridge, connectResumableBridge, type ResumeOptions } from '../../shared/ws-connect.js';
import type { ResumableStream } from '../../shared/resumable-stream.js';
import { DEFAULT_RESUME_WINDOW_MS, MAX_RESUME_BUFFER_BYTES, MIN_RESUME_BUFFER_BYTES } from '../../shared/stream-protocol.js';
import type { WebSocketDuplex } from '../../shared/ws-duplex.js';
import { TRANSFER_HEADER, encodeTransferHeader, type TransferDirection, type TransferSummary } from '../../shared/transfer.js';

export interface ServiceClientOptions {
  ca?: string | Buffer | undefined;
  /** Base URL of the hub, default `https://{HostName}`. */
  hubUrl?: string | undefined;
  /** Recorded in the stream log as the operator on whose behalf streams are opened. */
  operator?: string | undefined;
  /** Per-request time limit (stream initiation adds its own timeouts). Default 30 s. */
  requestTimeoutMs?: number;
  /**
   * Most HTTPS connections held open to the hub at once (kept alive between calls); further calls
   * wait for one to be free. A stream initiation holds its connection until the device answers.
   * Default 128.
   */
  maxConnections?: number;
}

export interface DeviceDescription {
  deviceId: string;
  status: 'enabled' | 'disabled';
  statusReason?: string | null;
  connectionState: 'Connected' | 'Disconnected';
  lastActivityTime: string;
  /** When the device last connected or disconnected (year 0001 when never). */
  connectionStateUpdatedTime: string;
  etag: string;
  authentication: { symmetricKey: { primaryKey: string; secondaryKey: string } };
  [k: string]: unknown;
}

export interface StreamLogEntry {
  streamId: string;
  deviceId: string;
  streamName: string;
  initiator: string;
  operator: string | null;
  /** A file transfer (direction, name, and the bytes that went its way); null for other streams. */
  transfer: TransferSummary | null;
  state: string;
  result: string | null;
  reason: string | null;
  createdAt: string;
  connectedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  closedBy: string | null;
  closeCode: number | null;
  bytesToDevice: number;
  bytesFromDevice: number;
  /** A v2 stream (half-close, resume). */
  resumable: boolean;
  /** Times its connections were lost, and times it came back. */
  interruptions: number;
  resumes: number;
  /** Set while it is interrupted. */
  interruptedAt: string | null;
  /** GET /streams/{id} only: each interruption (at most 100), oldest first. */
  interruptionLog?: Array<{ interruptedAt: string; resumedAt: string | null }>;
}

export interface StreamQuery {
  deviceId?: string | undefined;
  result?: string | undefined;
  operator?: string | undefined;
  before?: number | undefined;
  /** With `before`: the id of the last row seen, for rows of the same millisecond. */
  beforeId?: string | undefined;
  since?: number | undefined;
  limit?: number | undefined;
}

export interface DevicePageQuery {
  /** At most this many (the hub gives at most 1,000). */
  top?: number | undefined;
  /** Part of the id, any case. */
  search?: string | undefined;
  status?: 'enabled' | 'disabled' | undefined;
  connectionState?: 'Connected' | 'Disconnected' | undefined;
  /** From the previous page's answer. */
  continuation?: string | undefined;
}

export interface DeviceStatistics {
  totalDeviceCount: number;
  enabledDeviceCount: number;
  disabledDeviceCount: number;
  connectedDeviceCount: number;
}

export interface InitiateOptions {
  connectTimeoutSeconds?: number;
  responseTimeoutSeconds?: number;
  /** Recorded as the operator of this stream (overrides the client's option). */
  operator?: string | undefined;
  /** The stream carries a file transfer: the log keeps its direction and the file's path (shortened past 256 characters). */
  transfer?: { direction: TransferDirection; path: string } | undefined;
  /**
   * Ask for a v2 stream: half-close, and resume after a lost connection (hub or endpoint restart,
   * network cut) within the window (default 120 s, at most 600 s), keeping at most `bufferBytes`
   * unacknowledged (default 4 MiB, 64 KiB to 16 MiB). A device whose agent does not speak v2 gets a v1 stream.
   */
  resumable?: boolean | { windowSeconds?: number; bufferBytes?: number; onEvent?: ResumeOptions['onEvent'] } | undefined;
}

/** The device answered the stream request with no; `reason` is its words. */
export class StreamRejectedError extends Error {
  readonly streamId: string;
  readonly reason: string;

  constructor(streamId: string, reason: string) {
    super(`the device rejected the stream: ${reason}`);
    this.name = 'StreamRejectedError';
    this.streamId = streamId;
    this.reason = reason;
  }
}

/** A stream as the service side holds it: v1 (WebSocketDuplex), or v2 with half-close and resume. */
export type ServiceStream = (WebSocketDuplex | ResumableStream) & { streamId?: string };

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * A path segment for a device id, stream id or name: percent-encoded, dots included, so that ids
 * like "." and ".." (valid device ids) are not taken for relative path steps by a proxy on the way.
 */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

export class ServiceClient {
  readonly #cs: ServiceConnectionString;
  readonly #o: ServiceClientOptions;
  readonly #base: URL;
  #token: { value: string; expiry: number } | undefined;
  /**
   * Keep-alive connections to the hub with the CA parsed once (the global agent would build a
   * secure context from the PEM for every new socket — measurable when streams open by the
   * hundred), at most `maxConnections` of them, so a burst of calls reuses TLS connections instead
   * of opening one each.
   */
  readonly #agent: HttpsAgent;
  /** Long-lived calls get their own agent, so they never hold one of the pool's sockets. */
  readonly #streamAgent: HttpsAgent;

  constructor(connectionString: string, options: ServiceClientOptions = {}) {
    this.#cs = parseServiceConnectionString(connectionString);
    this.#o = options;
    this.#base = new URL(options.hubUrl ?? `https://${this.#cs.hostName}`);
    const secureContext = secureContextFor(options.ca);
    this.#agent = new HttpsAgent({ keepAlive: true, maxSockets: options.maxConnections ?? 128, lookup: cachedLookup, ...(secureContext === undefined ? {} : { secureContext }) });
    this.#streamAgent = new HttpsAgent({ keepAlive: false, maxSockets: 4, ...(secureContext === undefined ? {} : { secureContext }) });
  }

  get hostName(): string {
    return this.#cs.hostName;
  }

  #sas(): string {
    const now = Math.floor(Date.now() / 1000);
    if (this.#token === undefined || this.#token.expiry - now < 300) {
      const expiry = now + 3600;
      this.#token = { value: createSasToken({ resource: this.#cs.hostName, key: this.#cs.sharedAccessKey, keyName: this.#cs.sharedAccessKeyName, expiry }), expiry };
    }
    return this.#token.value;
  }

  /** One REST call; a non-2xx answer becomes the hub's DsError. */
  async call(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
    // The path goes out as given: URL resolution would take an id like "." or ".." (even as %2E)
    // for a relative step and address another resource.
    const url = this.#base;
    const target = `${url.pathname.replace(/\/+$/, '')}${path}`;
    const text = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { authorization: this.#sas(), accept: 'application/json', ...options.headers };
    if (text !== undefined) {
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    if (this.#o.operator !== undefined) headers['x-devicestreams-operator'] = this.#o.operator;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const answer = await new Promise<HttpAnswer>((resolve, reject) => {
      const tls = url.protocol === 'https:' ? { agent: this.#agent } : {};
      const timeoutMs = options.timeoutMs ?? this.#o.requestTimeoutMs ?? 30_000;
      const req = send({ protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: target, method, headers, ...tls, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 16 * 1024 * 1024) req.destroy(new Error('answer larger than 16 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let body: unknown = raw;
          if ((res.headers['content-type'] ?? '').includes('json') && raw !== '') {
            try {
              body = JSON.parse(raw);
            } catch {
              body = raw;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      });
      // The hub itself went quiet (not a device: that is the hub's own 504101): as unreachable.
      req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${target.split('?')[0] ?? ''} for ${Math.round(timeoutMs / 1000)} s`)));
      req.on('error', reject);
      req.end(text);
    }).catch((err: unknown) => {
      if (err instanceof DsError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot reach the hub at ${this.#base.origin}: ${msg}`, { cause: err });
    });
    if (answer.status >= 300) {
      if (isErrorBody(answer.body)) throw new DsError(answer.body.errorCode as never, answer.body.message);
      throw new DsError(ErrorCode.InternalError, `hub answered HTTP ${answer.status}`);
    }
    return answer;
  }

  async createDevice(deviceId: string, options: { status?: 'enabled' | 'disabled' } = {}): Promise<DeviceDescription> {
    const r = await this.call('PUT', `/devices/${segment(deviceId)}`, { body: { deviceId, status: options.status ?? 'enabled' } });
    return r.body as DeviceDescription;
  }

  async getDevice(deviceId: string): Promise<DeviceDescription> {
    return (await this.call('GET', `/devices/${segment(deviceId)}`)).body as DeviceDescription;
  }

  /** The first page of the registry (at most 1,000 devices); see `listDevicePage` for the rest. */
  async listDevices(): Promise<DeviceDescription[]> {
    return (await this.call('GET', '/devices')).body as DeviceDescription[];
  }

  /** One page of the registry in id order, filtered; `continuation` fetches the next one. */
  async listDevicePage(q: DevicePageQuery = {}): Promise<{ devices: DeviceDescription[]; continuation: string | undefined }> {
    const params = new URLSearchParams();
    if (q.top !== undefined) params.set('top', String(q.top));
    if (q.search !== undefined && q.search !== '') params.set('search', q.search);
    if (q.status !== undefined) params.set('status', q.status);
    if (q.connectionState !== undefined) params.set('connectionState', q.connectionState);
    const qs = params.toString();
    const r = await this.call('GET', `/devices${qs === '' ? '' : `?${qs}`}`, q.continuation === undefined ? {} : { headers: { 'x-ms-continuation': q.continuation } });
    const next = r.headers['x-ms-continuation'];
    return { devices: r.body as DeviceDescription[], continuation: typeof next === 'string' && next !== '' ? next : undefined };
  }

  /** Counts of the fleet (GET /statistics/devices). */
  async deviceStatistics(): Promise<DeviceStatistics> {
    return (await this.call('GET', '/statistics/devices')).body as DeviceStatistics;
  }

  /**
   * What a long-lived call to the hub needs (the registry feed): where, with which agent, and this
   * client's current credentials.
   */
  streamingRequest(path: string): { options: RequestOptions; secure: boolean } {
    const url = this.#base;
    const secure = url.protocol === 'https:';
    return {
      secure,
      options: {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: `${url.pathname.replace(/\/+$/, '')}${path}`,
        headers: { authorization: this.#sas(), accept: 'text/event-stream' },
        ...(secure ? { agent: this.#streamAgent } : {}),
      },
    };
  }

  async updateDevice(deviceId: string, changes: { status?: 'enabled' | 'disabled'; statusReason?: string | null }): Promise<DeviceDescription> {
    const r = await this.call('PUT', `/devices/${segment(deviceId)}`, { body: { deviceId, ...changes }, headers: { 'if-match': '"*"' } });
    return r.body as DeviceDescription;
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.call('DELETE', `/devices/${segment(deviceId)}`, { headers: { 'if-match': '"*"' } });
  }

  /** The device connection string for a registered device. */
  async deviceConnectionString(deviceId: string): Promise<string> {
    const d = await this.getDevice(deviceId);
    return `HostName=${this.#cs.hostName};DeviceId=${d.deviceId};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`;
  }

  async listStreams(q: StreamQuery = {}): Promise<{ streams: StreamLogEntry[]; nextBefore: number | null; nextBeforeId?: string | null }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return (await this.call('GET', `/streams${qs === '' ? '' : `?${qs}`}`)).body as { streams: StreamLogEntry[]; nextBefore: number | null; nextBeforeId?: string | null };
  }

  async getStream(streamId: string): Promise<StreamLogEntry> {
    return (await this.call('GET', `/streams/${segment(streamId)}`)).body as StreamLogEntry;
  }

  /**
   * Asks the device for a stream and connects the service side. Resolves with the stream as a
   * Duplex; rejects with StreamRejectedError (the device said no) or DsError (404103 offline,
   * 504101 no answer, 429xxx throttled, 401/403 credentials, 404001 unknown device).
   */
  async initiateStream(deviceId: string, streamName: string, options: InitiateOptions = {}): Promise<ServiceStream> {
    const connect = options.connectTimeoutSeconds ?? 60;
    const response = options.responseTimeoutSeconds ?? 60;
    const resume = options.resumable === undefined || options.resumable === false ? undefined : options.resumable === true ? {} : options.resumable;
    const windowMs = resume === undefined ? undefined : Math.round((resume.windowSeconds ?? DEFAULT_RESUME_WINDOW_MS / 1000) * 1000);
    const buffer = resume?.bufferBytes;
    if (buffer !== undefined && !(Number.isInteger(buffer) && buffer >= MIN_RESUME_BUFFER_BYTES && buffer <= MAX_RESUME_BUFFER_BYTES)) {
      throw new DsError(ErrorCode.ArgumentInvalid, `resumable.bufferBytes must be a whole number of bytes from ${MIN_RESUME_BUFFER_BYTES} to ${MAX_RESUME_BUFFER_BYTES}`);
    }
    const r = await this.call('POST', `/twins/${segment(deviceId)}/streams/${segment(streamName)}?api-version=2021-04-12`, {
      headers: {
        'iothub-streaming-connect-timeout-in-seconds': String(connect),
        'iothub-streaming-response-timeout-in-seconds': String(response),
        ...(options.operator === undefined ? {} : { 'x-devicestreams-operator': options.operator }),
        ...(windowMs === undefined ? {} : { 'x-devicestreams-resumable': String(windowMs / 1000) }),
        ...(options.transfer === undefined ? {} : { [TRANSFER_HEADER]: encodeTransferHeader(options.transfer.direction, options.transfer.path) }),
      },
      timeoutMs: (connect + response + 15) * 1000,
    });
    const streamId = String(r.headers['x-devicestreams-stream-id'] ?? '');
    if (String(r.headers['iothub-streaming-is-accepted']).toLowerCase() !== 'true') {
      const reason = typeof r.body === 'object' && r.body !== null && 'reason' in r.body ? String((r.body).reason) : 'rejected';
      throw new StreamRejectedError(streamId, reason);
    }
    const url = r.headers['iothub-streaming-url'];
    const token = r.headers['iothub-streaming-auth-token'];
    if (typeof url !== 'string' || typeof token !== 'string') throw new DsError(ErrorCode.InternalError, 'hub accepted the stream but sent no URL or token');
    const key = r.headers['x-devicestreams-resume-key'];
    const stream: ServiceStream = windowMs !== undefined && typeof key === 'string'
      ? await connectResumableBridge(url, token, this.#o.ca, {
        windowMs,
        bufferBytes: resume?.bufferBytes,
        requestLeg: async () => (await this.call('POST', `/streams/${segment(streamId)}/resume`, { body: { side: 'service', key }, timeoutMs: 15_000 })).body as { url: string; authToken: string },
        abandonLeg: async (reason) => {
          await this.call('POST', `/streams/${segment(streamId)}/abandon`, { body: { side: 'service', key, reason }, timeoutMs: 5_000 });
        },
        ...(resume?.onEvent === undefined ? {} : { onEvent: resume.onEvent }),
      })
      : await connectBridge(url, token, this.#o.ca);
    stream.streamId = streamId;
    return stream;
  }
}

/** Creates a service client from a service connection string. Throws DsError if it is malformed. */
export function createServiceClient(connectionString: string, options: ServiceClientOptions = {}): ServiceClient {
  return new ServiceClient(connectionString, options);
}
