/**
 * Pipes two WebSockets into each other: binary frames as they come, no copies, with flow control.
 * Bytes sent towards a side but not yet handed to its TCP socket are counted; past the high
 * watermark the source socket is paused (so its TCP window closes all the way back to the sender)
 * and it resumes below the low watermark. Memory per stream is therefore bounded by about
 * 2 × high watermark, however slow the reader.
 */
import type { WebSocket } from 'ws';
import { CloseCode, describeClose } from '../../shared/close-codes.js';
import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_LOW_WATER_BYTES } from '../../shared/limits.js';
import type { StreamSide } from '../../shared/stream-token.js';
import { closeWithin } from '../../shared/ws-close.js';
import { MAX_CONTROL_BYTES, STREAM_V2_SUBPROTOCOL, decodeStreamControl, encodeStreamControl } from '../../shared/stream-protocol.js';

export interface BridgeEnd {
  closedBy: StreamSide | 'gateway';
  closeCode: number;
  reason: string;
  /**
   * Bytes of the whole stream each way, as far as this pair knows: on a resumed pair, what the
   * receiving side said it had (its resume offset) plus what this pair carried to it since.
   */
  bytesToDevice: number;
  bytesFromDevice: number;
  /** v2 on both sides and a leg was lost, not closed: the sides come back and the stream goes on. */
  interrupted: boolean;
}

/** Legs the endpoint closed itself because a newer leg of the same stream and side arrived. */
const superseded = new WeakSet<WebSocket>();

/** Ends a bridged pair because a resumed leg arrived: both sides are told to come back (4009). */
export function supersede(pair: readonly WebSocket[]): void {
  for (const ws of pair) {
    superseded.add(ws);
    closeWithin(ws, CloseCode.PeerInterrupted, 'a newer connection for this stream arrived; resuming', 2000);
  }
}

/** Close codes of a lost leg, as opposed to one its side closed on purpose. */
const LOST = new Set<number>([1001, 1006, 1011, CloseCode.HubShutdown, CloseCode.HeartbeatTimeout, CloseCode.PeerInterrupted]);

/** Sockets the endpoint cut because they stopped answering heartbeats. */
const heartbeatCut = new WeakSet<WebSocket>();

/** Cuts a socket that stopped answering pings; its stream ends as the gateway's doing (4008). */
export function cutForHeartbeat(ws: WebSocket): void {
  heartbeatCut.add(ws);
  ws.terminate();
}

/**
 * Pipes `from` into `to`; returns a getter for the bytes forwarded. Text frames are v2 control
 * messages: passed on when both sides speak v2, dropped towards a v1 side, an error from a v1 side.
 */
function pipe(from: WebSocket, to: WebSocket, text: 'forward' | 'drop' | 'refuse', onProtocolError: () => void, onResume: (offset: number) => void): () => number {
  let forwarded = 0;
  let queued = 0;
  let paused = false;
  const drained = (size: number) => (): void => {
    queued -= size;
    if (paused && queued <= BRIDGE_LOW_WATER_BYTES) {
      paused = false;
      from.resume();
    }
  };
  from.on('message', (data, isBinary) => {
    if (!isBinary) {
      if (text === 'refuse') return onProtocolError();
      const buf = data as Buffer;
      // Anything longer is not a control message: dropped, so text cannot grow our queues.
      if (text !== 'forward' || buf.length > MAX_CONTROL_BYTES) return;
      // A side's resume offset: the bytes of the stream it has, so the counts stay whole.
      const m = buf.length <= 64 ? decodeStreamControl(buf.toString('utf8')) : undefined;
      if (m?.type === 'resume') onResume(m.offset);
      if (to.readyState !== to.OPEN) return;
      // Counted with the data, so a flood of control frames towards a slow side pauses its sender too.
      queued += buf.length;
      to.send(buf, { binary: false }, drained(buf.length));
      if (!paused && queued > BRIDGE_HIGH_WATER_BYTES) {
        paused = true;
        from.pause();
      }
      return;
    }
    const buf = data as Buffer;
    forwarded += buf.length;
    if (to.readyState !== to.OPEN) return;
    queued += buf.length;
    to.send(buf, { binary: true }, drained(buf.length));
    if (!paused && queued > BRIDGE_HIGH_WATER_BYTES) {
      paused = true;
      from.pause();
    }
  });
  return () => forwarded;
}

/** The close code and reason to give the survivor when its peer closed with `code`. */
function forwardClose(code: number, reason: string): [number, string] {
  if (code === CloseCode.Normal) return [CloseCode.Normal, reason];
  if (code >= 4000 && code < 5000) return [code, reason];
  return [CloseCode.PeerDropped, `the other side ${code === 1006 ? 'dropped' : `closed: ${describeClose(code, reason)}`}`];
}

/**
 * Bridges the service and device sockets of one stream until either ends; `onEnd` is called once
 * with who ended it, how, and the byte counts.
 */
export function bridge(service: WebSocket, device: WebSocket, heartbeatMs: number, onEnd: (end: BridgeEnd) => void): void {
  const v2 = { service: service.protocol === STREAM_V2_SUBPROTOCOL, device: device.protocol === STREAM_V2_SUBPROTOCOL };
  const both = v2.service && v2.device;
  // Each v2 side learns first whether the other speaks v2 too (half-close and resume need both),
  // and how often this endpoint pings it (so it can tell a silent path from a quiet stream).
  const hb = Math.max(1, Math.round(heartbeatMs));
  if (v2.service) service.send(encodeStreamControl({ type: 'peer', v2: v2.device, hb }));
  if (v2.device) device.send(encodeStreamControl({ type: 'peer', v2: v2.service, hb }));
  const textFrom = (self: boolean, other: boolean): 'forward' | 'drop' | 'refuse' => (!self ? 'refuse' : other ? 'forward' : 'drop');
  let ended = false;
  // ws closes an oversized frame's sender with 1009 but then reports 1006 locally; remember why.
  const tooBig = new WeakSet<WebSocket>();
  for (const ws of [service, device]) {
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooBig.add(ws);
    });
  }
  const protocolError = (who: WebSocket) => (): void => {
    who.close(1003, 'stream frames must be binary');
  };
  // Stream bytes each side had when this pair began (its resume offset; 0 on a first pair).
  const base = { toDevice: 0, fromDevice: 0 };
  const toDevice = pipe(service, device, textFrom(v2.service, v2.device), protocolError(service), (offset) => (base.fromDevice = offset));
  const fromDevice = pipe(device, service, textFrom(v2.device, v2.service), protocolError(device), (offset) => (base.toDevice = offset));
  const finish = (side: StreamSide, self: WebSocket, other: WebSocket) => (rawCode: number, reasonBuf: Buffer): void => {
    if (ended) return;
    ended = true;
    const cut = heartbeatCut.has(self);
    const code = cut ? CloseCode.HeartbeatTimeout : rawCode === 1006 && tooBig.has(self) ? CloseCode.MessageTooBig : rawCode;
    const reason = cut
      ? `the ${side} side stopped answering heartbeats`
      : code === CloseCode.MessageTooBig ? 'sent a frame larger than 64 KiB' : reasonBuf.toString('utf8');
    // A v2 stream whose leg was lost goes on: the other side is told to come back too.
    const interrupted = both && (superseded.has(self) || LOST.has(code));
    const [fwdCode, fwdReason] = interrupted ? [CloseCode.PeerInterrupted, `the ${side} side's connection was lost; resuming`] : forwardClose(code, reason);
    if (!superseded.has(other) && (other.readyState === other.OPEN || other.readyState === other.CONNECTING)) {
      closeWithin(other, fwdCode, fwdReason, 5000);
    }
    onEnd({
      closedBy: cut ? 'gateway' : side,
      closeCode: code,
      reason: describeClose(code, reason),
      bytesToDevice: base.toDevice + toDevice(),
      bytesFromDevice: base.fromDevice + fromDevice(),
      interrupted,
    });
  };
  service.on('close', finish('service', service, device));
  device.on('close', finish('device', device, service));
  service.resume();
  device.resume();
}
