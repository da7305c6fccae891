/**
 * The device control channel (ours, versioned): JSON text messages over WSS
 * `/devices/{deviceId}/control`. One discriminated union, used by the hub and the device SDK.
 * Browser-safe.
 */
import { z } from 'zod';
import { MAX_CONTROL_MESSAGE_BYTES, STREAM_NAME_PATTERN } from './limits.js';

/** Most stream names a hello may announce. */
export const MAX_ANNOUNCED_SERVICES = 64;

export const CONTROL_PROTOCOL_VERSION = 1;

const hello = z.object({
  /** device → hub, first message: who is speaking. */
  type: z.literal('hello'),
  protocol: z.number().int(),
  agent: z.string().max(200),
  /** The stream names it maps (`shell`, `files`, `http`…), so the console offers only what is there. */
  services: z.array(z.string().regex(STREAM_NAME_PATTERN)).max(MAX_ANNOUNCED_SERVICES).optional(),
  /**
   * A random id of this agent process (SDK instance), the same in every hello it sends: a hello
   * with another one means the device side restarted, so the hub ends the streams of the one
   * before at once instead of holding them for a resume that cannot come.
   */
  instance: z.string().min(1).max(64).optional(),
});

const welcome = z.object({
  /** hub → device, answer to hello: the channel is ready for stream requests. */
  type: z.literal('welcome'),
  protocol: z.number().int(),
  deviceId: z.string(),
  /** How often the hub pings; the device may use it to detect a dead hub. */
  heartbeatIntervalMs: z.number().int().positive(),
});

export const streamRequestSchema = z.object({
  /** hub → device: a service wants a stream; answer with streamResponse. */
  type: z.literal('streamRequest'),
  requestId: z.string().max(100),
  streamName: z.string().max(64),
  /** Where to connect the device side, `wss://…/bridges/{streamId}`. */
  url: z.string().max(2048),
  /** Bearer token for the device side. */
  authToken: z.string().max(2048),
  /** Epoch milliseconds after which the request is void. */
  expiresAt: z.number(),
  /**
   * Present when the initiator asked for a resumable stream (v2): the device side's resume key,
   * which it presents to POST /streams/{id}/resume after losing its leg, and the resume window.
   * Devices that do not know v2 ignore it and connect as v1.
   */
  resume: z.object({ key: z.string().max(100), windowMs: z.number().int().positive() }).optional(),
});

const streamResponse = z.object({
  /** device → hub: accept (then connect to url) or reject with a reason. */
  type: z.literal('streamResponse'),
  requestId: z.string().max(100),
  accepted: z.boolean(),
  reason: z.string().max(500).optional(),
});

export const controlMessageSchema = z.discriminatedUnion('type', [hello, welcome, streamRequestSchema, streamResponse]);

export type ControlMessage = z.infer<typeof controlMessageSchema>;
export type HelloMessage = z.infer<typeof hello>;
export type WelcomeMessage = z.infer<typeof welcome>;
export type StreamRequestMessage = z.infer<typeof streamRequestSchema>;
export type StreamResponseMessage = z.infer<typeof streamResponse>;

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Decodes one text message; never throws. */
export function decodeControlMessage(text: string): DecodeResult<ControlMessage> {
  if (typeof text !== 'string') return { ok: false, error: 'control message must be text' };
  if (text.length > MAX_CONTROL_MESSAGE_BYTES || new TextEncoder().encode(text).length > MAX_CONTROL_MESSAGE_BYTES) {
    return { ok: false, error: 'control message too large' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'control message is not JSON' };
  }
  const parsed = controlMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `invalid control message: ${issue ? `${issue.path.join('.') || 'type'}: ${issue.message}` : 'unknown'}` };
  }
  return { ok: true, value: parsed.data };
}

/** Encodes one message. */
export function encodeControlMessage(message: ControlMessage): string {
  return JSON.stringify(message);
}
