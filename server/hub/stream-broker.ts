/**
 * The stream state machine. An initiation waits for an offline device (connect timeout), asks it
 * through whichever node holds its control channel (response timeout), and on acceptance hands out
 * one token per side for a streaming endpoint; the endpoint then reports when both sides are
 * connected and when the stream ends. Every initiation leaves exactly one record in the stream log.
 *
 *   pending ──accept──► accepted ──both sides──► open ──close──► ended
 *      └──reject / offline / timeout / throttled──────────────────►┘
 *
 * Nothing here assumes one process: devices are reached through a DeviceRouter, streaming
 * endpoints through StreamGateways, limits through a Throttle, and every fact lives in the store.
 * What this node keeps in memory is only what it started: the handshake deadline of the streams it
 * initiated.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CloseCode } from '../../shared/close-codes.js';
import type { StreamRequestMessage, StreamResponseMessage } from '../../shared/control-protocol.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { signStreamToken } from '../../shared/stream-token.js';
import type { TransferLabel } from '../../shared/transfer.js';
import type { StreamBytes, StreamEnd, StreamRecord, StreamResult, Store } from '../store/store.js';
import type { HubMetrics } from './metrics.js';

export interface InitiateRequest {
  deviceId: string;
  streamName: string;
  /** The policy that signed the request. */
  initiator: string;
  /** A console operator acting through that policy, if any. */
  operator: string | null;
  /** What the stream carries when it is a file transfer (the initiator's word, validated). */
  transfer?: TransferLabel | null | undefined;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Asked for a resumable (v2) stream, with this resume window. */
  resumeWindowMs?: number | undefined;
}

export type InitiateResult =
  | { accepted: true; streamId: string; url: string; authToken: string; /** The service side's resume key (resumable streams). */ resumeKey?: string | undefined }
  | { accepted: false; streamId: string; reason: string };

export type RequestOutcome = StreamResponseMessage | 'timeout' | 'disconnected';

/** How the broker reaches devices: their control channels, on this node or another. */
export interface DeviceRouter {
  /**
   * Resolves true as soon as the device is connected to some node, false after `timeoutMs`.
   * `holder` is the node the store named as the device's holder when the caller read its record
   * just before (null: none), so a router need not read it again.
   */
  waitOnline(deviceId: string, timeoutMs: number, holder?: string | null): Promise<boolean>;
  /** Sends a stream request to the device and waits for its answer (`holder` as for waitOnline). */
  request(deviceId: string, msg: StreamRequestMessage, timeoutMs: number, holder?: string | null): Promise<RequestOutcome>;
}

/** A streaming endpoint's controls, as the broker drives them. */
export interface GatewayControl {
  /** Closes a stream (waiting or bridged) with a 4xxx code; its end is reported as the hub's doing. */
  abort(streamId: string, code: number, reason: string): void;
}

/** Where streams are carried: which endpoint takes a new one, and how to reach each. */
export interface StreamGateways {
  /** The node whose endpoint carries a new stream, and its `wss://` base URL. */
  pick(): { node: string; url: string };
  /** The `wss://` base of `node`'s endpoint when it is alive, else undefined. */
  locate(node: string): string | undefined;
  /** The `wss://` bases of every endpoint that may carry streams now. */
  endpoints(): string[];
  /** Asks `node`'s endpoint to close a stream. */
  abort(node: string, streamId: string, code: number, reason: string): void;
}

/** Stream limits: concurrent streams per device and in all, initiations per second. */
export interface Throttle {
  /** Takes a slot for a new stream or throws the 429 DsError. */
  acquire(deviceId: string, streamId: string): Promise<void>;
  /** Gives the stream's slot back (a no-op for limits counted from the store). */
  release(streamId: string): void;
  /**
   * Counts a stream that is live already (a resumable stream that outlived a restart of this hub)
   * without taking an initiation; only limits kept in memory need it.
   */
  restore?(deviceId: string, streamId: string): void;
}

export interface StreamBrokerOptions {
  store: Store;
  /** This node's id, recorded on the streams it initiates. */
  node: string;
  devices: DeviceRouter;
  gateways: StreamGateways;
  throttle: Throttle;
  metrics: HubMetrics;
  tokenSecret: Buffer;
  /** Initiation → both sides connected must finish within this (at most 60 s). */
  handshakeTimeoutMs: number;
  log: (line: string) => void;
}

interface Pending {
  deviceId: string;
  createdAt: number;
  state: 'pending' | 'accepted';
  gatewayNode: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** A side's resume key: 192 random bits, base64url. */
function newResumeKey(): string {
  return randomBytes(24).toString('base64url');
}

/** What the store keeps of a resume key. */
export function hashResumeKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** How long the hub waits for a streaming endpoint's end report after asking it to abort. */
const ABORT_REPORT_GRACE_MS = 5000;

export class StreamBroker {
  readonly #o: StreamBrokerOptions;
  /** Streams this node initiated that are not yet open or ended. */
  readonly #pending = new Map<string, Pending>();

  constructor(options: StreamBrokerOptions) {
    this.#o = options;
  }

  /** Streams this node is setting up, by state (for metrics). */
  counts(): Record<'pending' | 'accepted', number> {
    const c = { pending: 0, accepted: 0 };
    for (const l of this.#pending.values()) c[l.state] += 1;
    return c;
  }

  async #finish(streamId: string, result: StreamResult, reason: string, deviceAnsweredAt?: number): Promise<void> {
    const p = this.#pending.get(streamId);
    if (p !== undefined) {
      clearTimeout(p.timer);
      this.#pending.delete(streamId);
    }
    this.#o.throttle.release(streamId);
    await this.#o.store.streams.answer(streamId, result, reason, Date.now(), undefined, deviceAnsweredAt);
    this.#o.metrics.streamsTotal.inc({ result });
  }

  async initiate(req: InitiateRequest): Promise<InitiateResult> {
    const { store, devices, throttle } = this.#o;
    const streamId = randomUUID();
    const createdAt = Date.now();
    const deadline = createdAt + this.#o.handshakeTimeoutMs;
    // A resumable stream: one key per side, kept hashed; each side presents its own to come back.
    const keys = req.resumeWindowMs === undefined ? undefined : { service: newResumeKey(), device: newResumeKey() };
    const resume = keys === undefined || req.resumeWindowMs === undefined ? undefined
      : { windowMs: req.resumeWindowMs, serviceKeyHash: hashResumeKey(keys.service), deviceKeyHash: hashResumeKey(keys.device) };
    await store.streams.create({ id: streamId, deviceId: req.deviceId, streamName: req.streamName, initiator: req.initiator, operator: req.operator, transfer: req.transfer ?? null, createdAt, node: this.#o.node, resume });

    const device = await store.devices.get(req.deviceId);
    if (device === undefined) {
      await this.#finish(streamId, 'deviceNotFound', 'no such device');
      throw new DsError(ErrorCode.DeviceNotFound, `device "${req.deviceId}" is not in the registry`);
    }
    try {
      await throttle.acquire(req.deviceId, streamId);
    } catch (err) {
      await store.streams.answer(streamId, 'throttled', err instanceof Error ? err.message : 'throttled', createdAt);
      this.#o.metrics.streamsTotal.inc({ result: 'throttled' });
      throw err;
    }
    this.#pending.set(streamId, { deviceId: req.deviceId, createdAt, state: 'pending', gatewayNode: undefined, timer: undefined });

    if (device.status !== 'enabled') {
      await this.#finish(streamId, 'deviceOffline', 'device is disabled');
      throw new DsError(ErrorCode.DeviceDisabled, `device "${req.deviceId}" is disabled; enable it to open streams`);
    }
    const online = await devices.waitOnline(req.deviceId, Math.min(req.connectTimeoutMs, deadline - Date.now()), device.connectedNode);
    if (!online) {
      const secs = Math.round(req.connectTimeoutMs / 1000);
      await this.#finish(streamId, 'deviceOffline', `device did not connect within ${secs} s`);
      throw new DsError(ErrorCode.DeviceNotOnline, `device "${req.deviceId}" is not connected and did not connect within ${secs} s`);
    }

    const gateway = this.#o.gateways.pick();
    const exp = Math.ceil(deadline / 1000);
    const deviceToken = signStreamToken(this.#o.tokenSecret, { sid: streamId, side: 'device', dev: req.deviceId, exp, gw: gateway.node });
    const serviceToken = signStreamToken(this.#o.tokenSecret, { sid: streamId, side: 'service', dev: req.deviceId, exp, gw: gateway.node });
    const url = `${gateway.url}/bridges/${streamId}`;
    const answer = await devices.request(
      req.deviceId,
      {
        type: 'streamRequest', requestId: streamId, streamName: req.streamName, url, authToken: deviceToken, expiresAt: deadline,
        ...(keys === undefined || resume === undefined ? {} : { resume: { key: keys.device, windowMs: resume.windowMs } }),
      },
      Math.max(0, Math.min(req.responseTimeoutMs, deadline - Date.now())),
      device.connectedNode,
    );
    if (answer === 'disconnected') {
      await this.#finish(streamId, 'responseTimeout', 'device disconnected before answering');
      throw new DsError(ErrorCode.DeviceResponseTimeout, `device "${req.deviceId}" disconnected before answering the stream request; retry when it is back`);
    }
    if (answer === 'timeout') {
      const secs = Math.round(req.responseTimeoutMs / 1000);
      await this.#finish(streamId, 'responseTimeout', `device did not answer within ${secs} s`);
      throw new DsError(ErrorCode.DeviceResponseTimeout, `device "${req.deviceId}" did not answer the stream request within ${secs} s`);
    }
    const answeredAt = Date.now();
    if (!answer.accepted) {
      const reason = answer.reason ?? 'rejected by the device';
      await this.#finish(streamId, 'rejected', reason, answeredAt);
      return { accepted: false, streamId, reason };
    }

    const p = this.#pending.get(streamId);
    if (p === undefined) {
      // Ended while the device was answering (the device was disabled or deleted meanwhile).
      const rec = await store.streams.get(streamId);
      throw new DsError(ErrorCode.DeviceDisabled, `the stream was ended before it connected: ${rec?.reason ?? 'ended by the hub'}`);
    }
    await store.streams.answer(streamId, 'accepted', null, Date.now(), gateway.node, answeredAt);
    this.#o.metrics.streamsTotal.inc({ result: 'accepted' });
    p.state = 'accepted';
    p.gatewayNode = gateway.node;
    p.timer = setTimeout(() => void this.#handshakeTimeout(streamId), Math.max(0, deadline - Date.now()));
    p.timer.unref();
    return { accepted: true, streamId, url, authToken: serviceToken, ...(keys === undefined ? {} : { resumeKey: keys.service }) };
  }

  async #handshakeTimeout(streamId: string): Promise<void> {
    const p = this.#pending.get(streamId);
    if (p === undefined || p.state !== 'accepted') return;
    this.#pending.delete(streamId);
    this.#o.throttle.release(streamId);
    if (await this.#o.store.streams.handshakeTimedOut(streamId, Date.now())) {
      this.#o.metrics.streamsTotal.inc({ result: 'handshakeTimeout' });
      if (p.gatewayNode !== undefined) this.#o.gateways.abort(p.gatewayNode, streamId, CloseCode.HandshakeTimeout, 'the other side did not connect in time');
    }
  }

  /** A streaming endpoint paired both sides. */
  async opened(streamId: string, v2?: boolean): Promise<void> {
    const p = this.#pending.get(streamId);
    if (p !== undefined) {
      clearTimeout(p.timer);
      this.#pending.delete(streamId);
      this.#o.metrics.handshakeSeconds.observe((Date.now() - p.createdAt) / 1000);
    }
    await this.#o.store.streams.opened(streamId, Date.now(), v2);
  }

  /** A streaming endpoint saw the stream end (or one side give up before pairing). */
  async ended(streamId: string, end: StreamEnd): Promise<void> {
    const p = this.#pending.get(streamId);
    if (p !== undefined) {
      clearTimeout(p.timer);
      this.#pending.delete(streamId);
    }
    this.#o.throttle.release(streamId);
    this.#countBytes(await this.#o.store.streams.ended(streamId, end, Date.now()));
  }

  /** Adds what a report added to the stream log to the byte counters. */
  #countBytes(grown: StreamBytes | undefined): void {
    if (grown === undefined) return;
    this.#o.metrics.streamBytes.inc({ direction: 'toDevice' }, grown.bytesToDevice);
    this.#o.metrics.streamBytes.inc({ direction: 'fromDevice' }, grown.bytesFromDevice);
  }

  /** A resumable stream lost its legs at an endpoint (its sides come back). */
  async interrupted(streamId: string, totals: StreamBytes, at = Date.now()): Promise<void> {
    this.#countBytes(await this.#o.store.streams.interrupted(streamId, at, totals));
  }

  /**
   * Ends the resumable streams interrupted past their resume window (ResumeTimeout), and closes a
   * leg still waiting for its other side at a streaming endpoint so that side learns it at once.
   * Safe on every node at once: each stream is ended by exactly one call.
   */
  async endResumeTimeouts(now: number): Promise<number> {
    const ended = await this.#o.store.streams.endResumeTimeouts(now);
    for (const s of ended) {
      this.#o.log(`stream ${s.id}: ${s.reason}`);
      this.#o.throttle.release(s.id);
      if (s.gatewayNode !== null) this.#o.gateways.abort(s.gatewayNode, s.id, CloseCode.ResumeTimeout, s.reason);
    }
    return ended.length;
  }

  /**
   * Both sides of an interrupted stream are connected again. If the stream ended meanwhile (its
   * window passed, its device was revoked, a side gave it up) the new pair is closed as it ended.
   */
  async resumed(streamId: string): Promise<void> {
    if (await this.#o.store.streams.resumed(streamId, Date.now())) return;
    const s = await this.#o.store.streams.get(streamId);
    if (s?.gatewayNode === null || s === undefined) return;
    this.#o.gateways.abort(s.gatewayNode, streamId, s.closeCode ?? CloseCode.Aborted, s.reason ?? 'the stream has ended');
  }

  /**
   * A side of a resumable stream gave it up while interrupted (its process is closing, its user
   * stopped waiting): the stream ends now instead of at the end of its resume window, and a leg of
   * the other side still waiting at an endpoint is closed so it learns at once.
   */
  async abandon(streamId: string, side: 'service' | 'device', reason: string): Promise<void> {
    const s = await this.#o.store.streams.get(streamId);
    if (s === undefined || s.state === 'ended') return;
    this.#o.log(`stream ${streamId}: the ${side} side gave it up (${reason})`);
    await this.ended(streamId, { closedBy: side, closeCode: CloseCode.Aborted, reason, bytesToDevice: 0, bytesFromDevice: 0 });
    if (s.gatewayNode !== null) this.#o.gateways.abort(s.gatewayNode, streamId, CloseCode.Aborted, reason);
  }

  /**
   * Ends every live stream of a device that was disabled or deleted, wherever it is carried: its
   * streaming endpoint closes both sides with 4004 and reports the hub as closer with `reason`.
   * Streams not yet handed to an endpoint end in the log at once; one whose endpoint does not
   * report within a few seconds (unreachable) is recorded as ended anyway. `how` gives another close
   * code, and may keep some of the streams.
   */
  async endDeviceStreams(deviceId: string, reason: string, how: { closeCode?: number; keep?: (s: StreamRecord) => boolean } = {}): Promise<number> {
    const live = (await this.#o.store.streams.liveFor(deviceId)).filter((s) => how.keep?.(s) !== true);
    const closeCode = how.closeCode ?? CloseCode.DeviceRevoked;
    const end: StreamEnd = { closedBy: 'hub', closeCode, reason, bytesToDevice: 0, bytesFromDevice: 0 };
    for (const s of live) {
      this.#o.log(`stream ${s.id}: ending it (${reason})`);
      const p = this.#pending.get(s.id);
      if (p !== undefined) {
        clearTimeout(p.timer);
        this.#pending.delete(s.id);
      }
      if (s.gatewayNode === null) {
        await this.ended(s.id, end);
        continue;
      }
      this.#o.gateways.abort(s.gatewayNode, s.id, closeCode, reason);
      setTimeout(() => void this.ended(s.id, end).catch(() => undefined), s.state === 'open' ? ABORT_REPORT_GRACE_MS : 0).unref();
    }
    return live.length;
  }

  /** Forgets the streams this node was setting up (shutdown); their records end at the next start. */
  close(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }
}
