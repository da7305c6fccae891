import { describe, expect, it } from 'vitest';
import { ResendBuffer } from './resend-buffer.js';

describe('ResendBuffer', () => {
  it('keeps written bytes until they are confirmed, dropping whole and partial chunks, and gives back exactly the rest', () => {
    const b = new ResendBuffer();
    b.add(Buffer.from('abc'), true);
    b.add(Buffer.from('defg'), true);
    b.add(Buffer.from('hi'), true);
    expect([b.sent, b.bytes]).toEqual([9, 9]);
    expect(b.trim(2)).toBe('trimmed');
    expect(b.rest().toString()).toBe('cdefghi');
    expect(b.trim(5)).toBe('trimmed');
    expect([b.bytes, b.rest().toString()]).toEqual([4, 'fghi']);
    expect(b.trim(9)).toBe('trimmed');
    expect([b.bytes, b.rest().length]).toEqual([0, 0]);
  });

  it('says "known" for an offset at or behind the last confirmed one and "beyond" past what was sent, changing nothing', () => {
    const b = new ResendBuffer();
    b.add(Buffer.from('abcdef'), true);
    b.trim(4);
    expect(b.trim(4)).toBe('known');
    expect(b.trim(1)).toBe('known');
    expect(b.trim(7)).toBe('beyond');
    expect(b.rest().toString()).toBe('ef');
  });

  it('counts but does not keep chunks written for a v1 peer, and forgets everything on clear', () => {
    const b = new ResendBuffer();
    b.add(Buffer.from('abc'), false);
    expect([b.sent, b.bytes]).toEqual([3, 0]);
    b.add(Buffer.from('def'), true);
    b.clear();
    expect([b.sent, b.bytes, b.rest().length]).toEqual([6, 0, 0]);
  });
});
