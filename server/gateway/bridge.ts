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

export interface BridgeEnd {
  closedBy: StreamSide | 'gateway';
  closeCode: number;
  reason: string;
  bytesToDevice: number;
  bytesFromDevice: number;
}

/** Sockets the endpoint cut because they stopped answering heartbeats. */
const heartbeatCut = new WeakSet<WebSocket>();

/** Cuts a socket that stopped answering pings; its stream ends as the gateway's doing (4008). */
export function cutForHeartbeat(ws: WebSocket): void {
  heartbeatCut.add(ws);
  ws.terminate();
}

/** Pipes `from` into `to`; returns a getter for the bytes forwarded. */
function pipe(from: WebSocket, to: WebSocket, onProtocolError: () => void): () => number {
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
    if (!isBinary) return onProtocolError();
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
export function bridge(service: WebSocket, device: WebSocket, onEnd: (end: BridgeEnd) => void): void {
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
  const toDevice = pipe(service, device, protocolError(service));
  const fromDevice = pipe(device, service, protocolError(device));
  const finish = (side: StreamSide, self: WebSocket, other: WebSocket) => (rawCode: number, reasonBuf: Buffer): void => {
    if (ended) return;
    ended = true;
    const cut = heartbeatCut.has(self);
    const code = cut ? CloseCode.HeartbeatTimeout : rawCode === 1006 && tooBig.has(self) ? CloseCode.MessageTooBig : rawCode;
    const reason = cut
      ? `the ${side} side stopped answering heartbeats`
      : code === CloseCode.MessageTooBig ? 'sent a frame larger than 64 KiB' : reasonBuf.toString('utf8');
    const [fwdCode, fwdReason] = forwardClose(code, reason);
    if (other.readyState === other.OPEN || other.readyState === other.CONNECTING) {
      closeWithin(other, fwdCode, fwdReason, 5000);
    }
    onEnd({
      closedBy: cut ? 'gateway' : side,
      closeCode: code,
      reason: describeClose(code, reason),
      bytesToDevice: toDevice(),
      bytesFromDevice: fromDevice(),
    });
  };
  service.on('close', finish('service', service, device));
  device.on('close', finish('device', device, service));
  service.resume();
  device.resume();
}
