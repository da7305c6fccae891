import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MIN_RING_BYTES, OutputRing } from './output-ring.js';

const join = (chunks: Buffer[]): Buffer => Buffer.concat(chunks);

describe('OutputRing', () => {
  it('keeps everything while under its capacity, addressed from offset 0', () => {
    const r = new OutputRing(MIN_RING_BYTES);
    r.append(Buffer.from('hello '));
    r.append(Buffer.from('world'));
    expect([r.start, r.end, r.size]).toEqual([0, 11, 11]);
    expect(join(r.since(0)).toString()).toBe('hello world');
    expect(join(r.since(6)).toString()).toBe('world');
    expect(join(r.since(11)).toString()).toBe('');
    expect(join(r.since(99)).toString()).toBe('');
  });

  it('drops the oldest bytes past its capacity; asking for them gives what is left', () => {
    const r = new OutputRing(MIN_RING_BYTES);
    const a = Buffer.alloc(MIN_RING_BYTES, 'a');
    r.append(a);
    r.append(Buffer.from('bcd'));
    expect([r.start, r.end, r.size]).toEqual([3, MIN_RING_BYTES + 3, MIN_RING_BYTES]);
    const all = join(r.since(0));
    expect(all.length).toBe(MIN_RING_BYTES);
    expect(all.subarray(-4).toString()).toBe('abcd');
  });

  it('keeps a million one-byte reads in a few hundred buffers', () => {
    const r = new OutputRing(1024 * 1024);
    for (let i = 0; i < 1024 * 1024 + 10; i++) r.append(Buffer.from([i & 0xff]));
    expect(r.size).toBe(1024 * 1024);
    const chunks = r.since(0);
    expect(chunks.length).toBeLessThan(100);
    const all = join(chunks);
    expect(all[0]).toBe(10 & 0xff);
    expect(all.at(-1)).toBe((1024 * 1024 + 9) & 0xff);
  });

  it('refuses a capacity below the minimum', () => {
    expect(() => new OutputRing(1024)).toThrow(RangeError);
  });

  it('any appends: holds exactly the last `capacity` bytes of everything, and since(o) is its tail from o', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 90_000 })), { maxLength: 40 }), fc.nat(), (sizes, pick) => {
        const r = new OutputRing(MIN_RING_BYTES);
        const everything: Buffer[] = [];
        let n = 0;
        for (const size of sizes) {
          const b = Buffer.alloc(size);
          for (let i = 0; i < size; i++) b[i] = (n + i) % 251;
          n += size;
          everything.push(b);
          r.append(b);
        }
        const whole = Buffer.concat(everything);
        expect(r.end).toBe(whole.length);
        expect(r.size).toBe(Math.min(whole.length, MIN_RING_BYTES));
        expect(join(r.since(0)).equals(whole.subarray(r.start))).toBe(true);
        const o = whole.length === 0 ? 0 : pick % (whole.length + 1);
        expect(join(r.since(o)).equals(whole.subarray(Math.max(o, r.start)))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
