import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStreamControl, encodeStreamControl, type StreamControl } from './stream-protocol.js';

describe('stream control messages', () => {
  it('encodes an acknowledgement as JSON.stringify does, and decodes it back, for any offset up to 2^53', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (offset) => {
      const m: StreamControl = { type: 'ack', offset };
      const text = encodeStreamControl(m);
      expect(text).toBe(JSON.stringify(m));
      expect(decodeStreamControl(text)).toEqual(m);
    }));
  });

  it('decodes other spellings of an acknowledgement by the schema, and refuses bad offsets', () => {
    expect(decodeStreamControl('{"offset":5,"type":"ack"}')).toEqual({ type: 'ack', offset: 5 });
    expect(decodeStreamControl('{ "type": "ack", "offset": 7 }')).toEqual({ type: 'ack', offset: 7 });
    for (const bad of ['{"type":"ack","offset":-1}', '{"type":"ack","offset":1.5}', '{"type":"ack","offset":"1"}', '{"type":"ack","offset":01}', '{"type":"ack"}', '{"type":"ack","offset":99999999999999999}']) {
      expect(decodeStreamControl(bad), bad).toBeUndefined();
    }
  });

  it('gives the same answer as the schema for any text (the fast path never accepts what the schema refuses)', () => {
    const ackLike = fc.oneof(
      fc.string(),
      fc.integer({ min: -5, max: Number.MAX_SAFE_INTEGER }).map((n) => `{"type":"ack","offset":${n}}`),
      fc.bigInt({ min: 0n, max: 10n ** 18n }).map((n) => `{"type":"ack","offset":${n}}`),
      fc.jsonValue().map((v) => JSON.stringify({ type: 'ack', offset: v })),
    );
    fc.assert(fc.property(ackLike, (text) => {
      const got = decodeStreamControl(text);
      let viaSchema: unknown;
      try {
        const v = JSON.parse(text) as { type?: unknown; offset?: unknown };
        viaSchema = v !== null && typeof v === 'object' && v.type === 'ack' && Number.isSafeInteger(v.offset) && (v.offset as number) >= 0 && Object.keys(v).length === 2 ? { type: 'ack', offset: v.offset } : 'other';
      } catch {
        viaSchema = 'other';
      }
      if (viaSchema === 'other') expect(got?.type === 'ack' ? got : undefined).toBeUndefined();
      else expect(got).toEqual(viaSchema);
    }), { numRuns: 2000 });
  });
});
