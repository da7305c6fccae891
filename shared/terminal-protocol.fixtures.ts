/**
 * Helpers of the terminal protocol's tests (terminal-protocol.test.ts and its property tests):
 * raw frames past the encoder's checks, concatenation, whole-stream decoding, the typed error.
 */
import { expect } from 'vitest';
import { FrameDecoder, TerminalProtocolError, type TerminalFrame } from './terminal-protocol.js';

export const HEADER = 5;
export const utf8 = (s: string) => new TextEncoder().encode(s);
export const bytes = (...xs: number[]) => Uint8Array.from(xs);

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A raw frame with any type and any declared length, bypassing the encoder's checks. */
export function rawFrame(type: number, payload: Uint8Array, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, declaredLength);
  out.set(payload, HEADER);
  return out;
}

export function decodeAll(...chunks: Uint8Array[]): TerminalFrame[] {
  const d = new FrameDecoder();
  const frames = chunks.flatMap((c) => d.push(c));
  expect(d.buffered).toBe(0);
  return frames;
}

export function expectProtocolError(fn: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(TerminalProtocolError);
  expect((error as Error).name).toBe('TerminalProtocolError');
  expect((error as Error).message).toMatch(message);
}
