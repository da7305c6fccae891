/**
 * The stream state machine. An initiation waits for an offline device (connect timeout), asks it
 * over its control channel (response timeout), and on acceptance hands out one token per side; the
 * streaming endpoint then reports when both sides are connected and when the stream ends. Every
 * initiation leaves exactly one record in the stream log.
 *
 *   pending ──accept──► accepted ──both sides──► open ──close──► ended
 *      └──reject / offline / timeout / throttled──────────────────►┘
 */
import { randomUUID } from 'node:crypto';
import { CloseCode } from '../../shared/close-codes.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { signStreamToken } from '../../shared/stream-token.js';
import type { StreamEnd, StreamResult } from '../store/streams.js';
import type { Store } from '../store/store.js';
import type { DeviceConnections } from './device-connections.js';
import type { HubMetrics } from './metrics.js';
import type { StreamThrottle } from './throttle.js';

export interface InitiateRequest {
  deviceId: string;
  streamName: string;
  /** The policy that signed the request. */
  initiator: string;
  /** A console operator acting through that policy, if any. */
  operator: string | null;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export type InitiateResult =
  | { accepted: true; streamId: string; url: string; authToken: string }
  | { accepted: false; streamId: string; reason: string };

/** The part of the streaming endpoint the broker drives, when it runs in this process. */
export interface GatewayControl {
  abort(streamId: string, code: number, reason: string): void;
}

export interface StreamBrokerOptions {
  store: Store;
  connections: DeviceConnections;
  throttle: StreamThrottle;
  metrics: HubMetrics;
  tokenSecret: Buffer;
  /** `wss://host:port` of the streaming endpoint; bridges hang below it. */
  gatewayUrl: () => string;
  /** Initiation → both sides connected must finish within this (at most 60 s). */
  handshakeTimeoutMs: number;
  log: (line: string) => void;
}

interface Live {
  deviceId: string;
  createdAt: number;
  state: 'pending' | 'accepted' | 'open';
  timer: NodeJS.Timeout | undefined;
  /** Set when the hub ended the stream (device disabled or deleted): its end is the hub's doing. */
  revoked?: { code: number; reason: string };
}

/** How long the hub waits for the streaming endpoint's end report after aborting a stream. */
const ABORT_REPORT_GRACE_MS = 5000;

export class StreamBroker {
  readonly #o: StreamBrokerOptions;
  readonly #live = new Map<string, Live>();
  gateway: GatewayControl | undefined;

  constructor(options: StreamBrokerOptions) {
    this.#o = options;
  }

  /** Streams not yet ended, by state (for metrics). */
  counts(): Record<'pending' | 'accepted' | 'open', number> {
    const c = { pending: 0, accepted: 0, open: 0 };
    for (const l of this.#live.values()) c[l.state] += 1;
    return c;
  }

  #finish(streamId: string, result: StreamResult, reason: string): void {
    const live = this.#live.get(streamId);
    if (live !== undefined) {
      clearTimeout(live.timer);
      this.#live.delete(streamId);
      this.#o.throttle.release(live.deviceId);
    }
    this.#o.store.streams.answer(streamId, result, reason, Date.now());
    this.#o.metrics.streamsTotal.inc({ result });
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    const { store, connections, throttle } = this.#o;
    const streamId = randomUUID();
    const createdAt = Date.now();
    const deadline = createdAt + this.#o.handshakeTimeoutMs;
    store.streams.create({ id: streamId, deviceId: req.deviceId, streamName: req.streamName, initiator: req.initiator, operator: req.operator, createdAt });

    const device = store.devices.get(req.deviceId);
    if (device === undefined) {
      this.#o.store.streams.answer(streamId, 'deviceNotFound', 'no such device', createdAt);
      this.#o.metrics.streamsTotal.inc({ result: 'deviceNotFound' });
      throw new DsError(ErrorCode.DeviceNotFound, `device "${req.deviceId}" is not in the registry`);
    }
    try {
      throttle.acquire(req.deviceId);
    } catch (err) {
      this.#o.store.streams.answer(streamId, 'throttled', err instanceof Error ? err.message : 'throttled', createdAt);
      this.#o.metrics.streamsTotal.inc({ result: 'throttled' });
      throw err;
    }
    this.#live.set(streamId, { deviceId: req.deviceId, createdAt, state: 'pending', timer: undefined });

    if (device.status !== 'enabled') {
      this.#finish(streamId, 'deviceOffline', 'device is disabled');
      throw new DsError(ErrorCode.DeviceDisabled, `device "${req.deviceId}" is disabled; enable it to open streams`);
    }
    const online = await connections.waitOnline(req.deviceId, Math.min(req.connectTimeoutMs, deadline - Date.now()));
    if (!online) {
      const secs = Math.round(req.connectTimeoutMs / 1000);
      this.#finish(streamId, 'deviceOffline', `device did not connect within ${secs} s`);
      throw new DsError(ErrorCode.DeviceNotOnline, `device "${req.deviceId}" is not connected and did not connect within ${secs} s`);
    }

    const exp = Math.ceil(deadline / 1000);
    const deviceToken = signStreamToken(this.#o.tokenSecret, { sid: streamId, side: 'device', dev: req.deviceId, exp });
    const serviceToken = signStreamToken(this.#o.tokenSecret, { sid: streamId, side: 'service', dev: req.deviceId, exp });
    const url = `${this.#o.gatewayUrl()}/bridges/${streamId}`;
    const answer = await connections.request(
      req.deviceId,
      { type: 'streamRequest', requestId: streamId, streamName: req.streamName, url, authToken: deviceToken, expiresAt: deadline },
      Math.max(0, Math.min(req.responseTimeoutMs, deadline - Date.now())),
    );
    if (answer === 'disconnected') {
      this.#finish(streamId, 'responseTimeout', 'device disconnected before answering');
      throw new DsError(ErrorCode.DeviceResponseTimeout, `device "${req.deviceId}" disconnected before answering the stream request; retry when it is back`);
    }
    if (answer === 'timeout') {
      const secs = Math.round(req.responseTimeoutMs / 1000);
      this.#finish(streamId, 'responseTimeout', `device did not answer within ${secs} s`);
      throw new DsError(ErrorCode.DeviceResponseTimeout, `device "${req.deviceId}" did not answer the stream request within ${secs} s`);
    }
    store.devices.touch(req.deviceId, false);
    if (!answer.accepted) {
      const reason = answer.reason ?? 'rejected by the device';
      this.#finish(streamId, 'rejected', reason);
      return { accepted: false, streamId, reason };
    }

    store.streams.answer(streamId, 'accepted', null, Date.now());
    this.#o.metrics.streamsTotal.inc({ result: 'accepted' });
    const live = this.#live.get(streamId);
    if (live !== undefined) {
      live.state = 'accepted';
      live.timer = setTimeout(() => this.#handshakeTimeout(streamId), Math.max(0, deadline - Date.now()));
      live.timer.unref();
    }
    return { accepted: true, streamId, url, authToken: serviceToken };
  }

  #handshakeTimeout(streamId: string): void {
    const live = this.#live.get(streamId);
    if (live === undefined || live.state !== 'accepted') return;
    this.#live.delete(streamId);
    this.#o.throttle.release(live.deviceId);
    if (this.#o.store.streams.handshakeTimedOut(streamId, Date.now())) this.#o.metrics.streamsTotal.inc({ result: 'handshakeTimeout' });
    this.gateway?.abort(streamId, 4002, 'the other side did not connect in time');
  }

  /** The streaming endpoint paired both sides. */
  opened(streamId: string): void {
    const live = this.#live.get(streamId);
    if (live === undefined || live.state !== 'accepted') return;
    clearTimeout(live.timer);
    live.state = 'open';
    this.#o.store.streams.opened(streamId, Date.now());
    this.#o.metrics.handshakeSeconds.observe((Date.now() - live.createdAt) / 1000);
  }

  /** The streaming endpoint saw the stream end (or one side give up before pairing). */
  ended(streamId: string, end: StreamEnd): void {
    const live = this.#live.get(streamId);
    if (live !== undefined) {
      clearTimeout(live.timer);
      this.#live.delete(streamId);
      this.#o.throttle.release(live.deviceId);
    }
    const recorded: StreamEnd = live?.revoked === undefined ? end : { ...end, closedBy: 'hub', closeCode: live.revoked.code, reason: live.revoked.reason };
    if (this.#o.store.streams.ended(streamId, recorded, Date.now())) {
      this.#o.metrics.streamBytes.inc({ direction: 'toDevice' }, end.bytesToDevice);
      this.#o.metrics.streamBytes.inc({ direction: 'fromDevice' }, end.bytesFromDevice);
    }
  }

  /**
   * Ends every stream of a device that was disabled or deleted: the streaming endpoint closes both
   * sides with 4004 and `reason`, and the stream log says the hub ended it and why. A stream whose
   * end is not reported within a few seconds (endpoint unreachable) is recorded as ended anyway.
   */
  endDeviceStreams(deviceId: string, reason: string): number {
    let n = 0;
    for (const [streamId, live] of this.#live) {
      if (live.deviceId !== deviceId || live.revoked !== undefined) continue;
      n += 1;
      live.revoked = { code: CloseCode.DeviceRevoked, reason };
      this.#o.log(`stream ${streamId}: ending it (${reason})`);
      if (live.state !== 'pending') this.gateway?.abort(streamId, CloseCode.DeviceRevoked, reason);
      clearTimeout(live.timer);
      live.timer = setTimeout(() => {
        this.ended(streamId, { closedBy: 'hub', closeCode: CloseCode.DeviceRevoked, reason, bytesToDevice: 0, bytesFromDevice: 0 });
      }, live.state === 'open' ? ABORT_REPORT_GRACE_MS : 0);
      live.timer.unref();
    }
    return n;
  }

  /** Ends every live stream (shutdown). */
  close(): void {
    for (const [id, live] of this.#live) {
      clearTimeout(live.timer);
      this.#o.store.streams.ended(id, { closedBy: 'hub', closeCode: 4007, reason: 'hub shut down', bytesToDevice: 0, bytesFromDevice: 0 }, Date.now());
    }
    this.#live.clear();
  }
}
