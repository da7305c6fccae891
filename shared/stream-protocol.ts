/**
 * Stream protocol v2 (opt-in): half-close and resume over the streaming endpoint. A side that
 * offers the WebSocket subprotocol `devicestreams.v2` keeps getting raw bytes in binary frames,
 * and also JSON text frames for control, defined here once for every side (service SDK, device
 * SDK, streaming endpoint). Sides without the subprotocol keep v1: a close is a close.
 *
 *   endpoint → side   {type:"peer", v2, hb}      at pairing: whether the other side speaks v2 too
 *                                                (v2 features are used only when both do), and the
 *                                                endpoint's ping interval in ms: a side that hears
 *                                                nothing for two of them takes its leg for lost
 *   side → side       {type:"end"}               this direction is finished (the far side sees end
 *                                                of input); the other direction goes on
 *   side → side       {type:"ack", offset}       bytes received so far (every ACK_EVERY_BYTES or
 *                                                ACK_INTERVAL_MS), so the sender can forget them
 *   side → side       {type:"resume", offset}    first message on a resumed leg: bytes received so
 *                                                far; the other side sends the rest again
 *
 * Browser-safe (no Node imports).
 */
import { z } from 'zod';

export const STREAM_V2_SUBPROTOCOL = 'devicestreams.v2';

/** Unacknowledged bytes a side keeps for a resume, by default; the writer waits when it is full. */
export const DEFAULT_RESUME_BUFFER_BYTES = 4 * 1024 * 1024;
/** The largest resume buffer a side may choose (it also bounds what the other side holds unread). */
export const MAX_RESUME_BUFFER_BYTES = 16 * 1024 * 1024;
/** At least four acknowledgement intervals (ACK_EVERY_BYTES), so a full buffer never waits for the ack timer. */
export const MIN_RESUME_BUFFER_BYTES = 1024 * 1024;
/** How long a stream may stay interrupted before it ends with resumeTimeout, by default and at most. */
export const DEFAULT_RESUME_WINDOW_MS = 120_000;
export const MAX_RESUME_WINDOW_MS = 600_000;
/** A receiver acknowledges once this many bytes are due (at the end of its event-loop turn), and at least every ACK_INTERVAL_MS while receiving. */
export const ACK_EVERY_BYTES = 256 * 1024;
export const ACK_INTERVAL_MS = 1000;

const messages = z.discriminatedUnion('type', [
  z.object({ type: z.literal('peer'), v2: z.boolean(), hb: z.number().int().positive().max(3_600_000).optional() }),
  z.object({ type: z.literal('end') }),
  z.object({ type: z.literal('ack'), offset: z.number().int().nonnegative() }),
  z.object({ type: z.literal('resume'), offset: z.number().int().nonnegative() }),
]);

export type StreamControl = z.infer<typeof messages>;

/** No control message is longer; a longer text frame is not one (and is dropped unread). */
export const MAX_CONTROL_BYTES = 256;

/** An acknowledgement exactly as encodeStreamControl writes it (the one frequent message). */
const ACK_TEXT = /^\{"type":"ack","offset":(0|[1-9]\d{0,15})\}$/;

/** Decodes a text frame; undefined for anything that is not a v2 control message. */
export function decodeStreamControl(text: string): StreamControl | undefined {
  if (text.length > MAX_CONTROL_BYTES) return undefined;
  // Every side and the endpoint read about one per MiB of a stream: no JSON parse or schema for
  // those. Anything else (or an offset past 2^53) takes the full path, which gives the same answer.
  const ack = ACK_TEXT.exec(text);
  if (ack !== null) {
    const offset = Number(ack[1]);
    if (Number.isSafeInteger(offset)) return { type: 'ack', offset };
  }
  try {
    const parsed = messages.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function encodeStreamControl(m: StreamControl): string {
  // The same text JSON.stringify gives, without walking an object for the frequent one.
  if (m.type === 'ack') return `{"type":"ack","offset":${m.offset}}`;
  return JSON.stringify(m);
}
