/**
 * The messages hub nodes of a cluster exchange over NATS: the subjects, one zod schema per
 * message, and encode/decode. Only hub nodes speak it (never a device or a browser), so it lives
 * with the cluster code rather than in the project's shared/. Every message is JSON; a message that
 * does not decode is dropped and logged, never trusted.
 *
 *   ds.node.<node>.stream   request  StreamAsk → StreamAnswer   a stream request for a device the node holds
 *   ds.node.<node>.abort    publish  Abort                      close a stream on the node's streaming endpoint
 *   ds.devices.online       publish  Online                     a node took a device's control channel
 *   ds.devices.drop         publish  Drop                       whoever holds the device drops its channel
 *   ds.devices.changed      publish  Changed                    registry or presence changed (console updates)
 *   ds.console.revoke       publish  Revoke                     end an operator's or a session's sockets
 *   ds.term.<stream>.watch  request  WatchAsk → WatchAnswer     a console node watches a terminal another bridges
 *   ds.term.<stream>.out    publish  terminal-protocol frames   the watched terminal's output (binary; empty: it ended)
 */
import { z } from 'zod';
import { streamRequestSchema } from '../../shared/control-protocol.js';

/** NATS subject tokens cannot hold '.', '*', '>' or spaces: ids travel as base64url. */
export function token(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url') || '_';
}

/** The id a subject token stands for. */
export function untoken(t: string): string {
  return t === '_' ? '' : Buffer.from(t, 'base64url').toString('utf8');
}

export const subjects = {
  stream: (node: string): string => `ds.node.${token(node)}.stream`,
  abort: (node: string): string => `ds.node.${token(node)}.abort`,
  online: 'ds.devices.online',
  drop: 'ds.devices.drop',
  changed: 'ds.devices.changed',
  /** A node was reaped (its devices marked connected nowhere): if it is in fact alive, it says again what it holds. */
  reaped: 'ds.nodes.reaped',
  revoke: 'ds.console.revoke',
  watch: (streamId: string): string => `ds.term.${token(streamId)}.watch`,
  /** Every watch request, for the nodes that serve them. */
  anyWatch: 'ds.term.*.watch',
  termOut: (streamId: string): string => `ds.term.${token(streamId)}.out`,
} as const;

/** A stream request for a device, to the node that holds it. */
export const StreamAsk = z.object({ deviceId: z.string().max(128), message: streamRequestSchema, timeoutMs: z.number().int().min(0).max(120_000) });
/** The device's answer, or why there is none. `notHere`: the node does not hold the device (it moved). */
export const StreamAnswer = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('answer'), accepted: z.boolean(), reason: z.string().max(500).optional() }),
  z.object({ outcome: z.literal('timeout') }),
  z.object({ outcome: z.literal('disconnected') }),
  z.object({ outcome: z.literal('notHere') }),
]);
export const Abort = z.object({ streamId: z.string().max(64), code: z.number().int().min(4000).max(4999), reason: z.string().max(200) });
export const Online = z.object({ deviceId: z.string().max(128), node: z.string().max(128), at: z.number() });
export const Drop = z.object({ deviceId: z.string().max(128), code: z.number().int().min(4000).max(4999), reason: z.string().max(200) });
export const Changed = z.object({ deviceId: z.string().max(128), node: z.string().max(128) });
export const Reaped = z.object({ node: z.string().max(128), by: z.string().max(128) });
export const Revoke = z.union([
  z.object({ operatorId: z.string().max(128), message: z.string().max(300) }),
  z.object({ sessionKey: z.string().max(128), message: z.string().max(300) }),
]);
/** Watch (or keep watching, `snapshot: false`) a terminal for `leaseMs`. */
export const WatchAsk = z.object({ leaseMs: z.number().int().min(1000).max(60_000), snapshot: z.boolean() });
/** Whether it is live; with a snapshot, the terminal-protocol frames that draw its screen so far (base64). */
export const WatchAnswer = z.discriminatedUnion('live', [
  z.object({ live: z.literal(true), snapshot: z.string().max(1024 * 1024).optional() }),
  z.object({ live: z.literal(false) }),
]);

export type StreamAsk = z.infer<typeof StreamAsk>;
export type StreamAnswer = z.infer<typeof StreamAnswer>;
export type Abort = z.infer<typeof Abort>;
export type Online = z.infer<typeof Online>;
export type Drop = z.infer<typeof Drop>;
export type Changed = z.infer<typeof Changed>;
export type Reaped = z.infer<typeof Reaped>;
export type Revoke = z.infer<typeof Revoke>;
export type WatchAsk = z.infer<typeof WatchAsk>;
export type WatchAnswer = z.infer<typeof WatchAnswer>;

export function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Decodes a message with `schema`; undefined for anything that is not one. */
export function decode<T>(schema: z.ZodType<T>, data: Uint8Array): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
