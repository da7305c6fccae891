/** The terminal protocol's codec under generated frames, chunkings and corruptions (fast-check). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  MAX_TERMINAL_PAYLOAD,
  TERMINAL_RESUMABLE_VERSION,
  TerminalProtocolError,
  type TerminalFrame,
} from './terminal-protocol.js';
import { HEADER, utf8, concat, rawFrame } from './terminal-protocol.fixtures.js';

const size = fc.integer({ min: 1, max: 65535 });
// Terms whose UTF-8 fits in 64 bytes round-trip exactly (longer ones: see the [BUG] test in terminal-protocol.test.ts).
const term = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((t) => utf8(t).length <= 64);
const sessionId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
const secret = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 32, maxLength: 32 }));
const offset = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const frameArb: fc.Arbitrary<TerminalFrame> = fc.oneof(
  fc.record({ type: fc.constant('data' as const), data: fc.uint8Array({ maxLength: 200 }) }),
  fc.record({ type: fc.constant('resize' as const), cols: size, rows: size }),
  fc.record({ type: fc.constant('exit' as const), code: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  fc.record({ type: fc.constant('hello' as const), version: fc.integer({ min: 0, max: 1 }), cols: size, rows: size, term }),
  fc.record({
    type: fc.constant('hello' as const),
    version: fc.constant(TERMINAL_RESUMABLE_VERSION),
    cols: size,
    rows: size,
    term,
    session: fc.oneof(
      fc.constant({ mode: 'new' as const }),
      fc.record({ mode: fc.constant('attach' as const), sessionId, secret, outputOffset: offset, inputOffset: offset }),
      fc.record({ mode: fc.constant('end' as const), sessionId, secret }),
    ),
  }),
  fc.record({ type: fc.constant('session' as const), sessionId, secret, detachTimeoutSeconds: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant('attached' as const), inputReceived: offset, outputOffset: offset, detachTimeoutSeconds: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant('close' as const), code: fc.integer({ min: 1, max: 255 }), message: fc.string({ maxLength: 60 }) }),
  fc.constant({ type: 'pause' as const }),
  fc.constant({ type: 'resume' as const }),
);

/** Cuts `data` at the given (arbitrary) positions. */
function chunked(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Pushes every chunk; only TerminalProtocolError may escape. */
function pushAllOrProtocolError(chunks: Uint8Array[]): void {
  const d = new FrameDecoder();
  let total = 0;
  try {
    for (const c of chunks) {
      d.push(c);
      total += c.length;
      expect(d.buffered).toBeLessThanOrEqual(Math.min(total, HEADER + MAX_TERMINAL_PAYLOAD));
    }
  } catch (e) {
    if (!(e instanceof TerminalProtocolError)) throw e;
  }
}

describe('properties', () => {
  it('any sequence of frames, cut anywhere, decodes to the same frames; buffered is exactly the unfinished frame', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
        const encoded = frames.map(encodeFrame);
        const ends: number[] = [0];
        for (const e of encoded) ends.push(ends.at(-1)! + e.length);
        const d = new FrameDecoder();
        const out: TerminalFrame[] = [];
        let total = 0;
        for (const chunk of chunked(concat(encoded), cuts)) {
          out.push(...d.push(chunk));
          total += chunk.length;
          const done = ends.filter((e) => e <= total);
          const lastEnd = done.at(-1)!;
          expect(out).toHaveLength(done.length - 1);
          expect(d.buffered).toBe(total - lastEnd);
          const next = ends[done.length];
          if (next !== undefined) expect(d.buffered).toBeLessThan(next - lastEnd); // never more than one frame
        }
        expect(out).toEqual(frames);
        expect(d.buffered).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('random bytes cut anywhere: only TerminalProtocolError escapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), (data, cuts) => {
        pushAllOrProtocolError(chunked(data, cuts));
      }),
      { numRuns: 2000 },
    );
  });

  it('well-framed junk (any type byte, any payload, small and huge lengths): frames or TerminalProtocolError', () => {
    const junkFrame = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 80 })).map(([type, payload]) => rawFrame(type, payload)),
      fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 8 })).map(([type, payload]) => rawFrame(type, payload)),
      fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 0xffffffff })).map(([type, len]) => rawFrame(type, new Uint8Array(0), len)),
    );
    fc.assert(
      fc.property(fc.array(junkFrame, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
        pushAllOrProtocolError(chunked(concat(frames), cuts));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid streams: only TerminalProtocolError escapes', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, flips, cuts) => {
          const data = concat(frames.map(encodeFrame));
          for (const [pos, value] of flips) data[pos % data.length] = value;
          pushAllOrProtocolError(chunked(data, cuts));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
