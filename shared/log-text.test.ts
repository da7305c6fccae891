import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { oneLine } from './log-text.js';

describe('oneLine', () => {
  it('writes line breaks, escape sequences, C1 controls and Unicode separators as visible escapes', () => {
    expect(oneLine('no such service\n2026-11-30T00:00:00.000Z device admin logged in')).toBe('no such service\\n2026-11-30T00:00:00.000Z device admin logged in');
    expect(oneLine('a\r\tb\u001b[2Jc\u0085d\u2028e\u0000')).toBe('a\\r\\tb\\x1b[2Jc\\x85d\\u2028e\\x00');
  });

  it('leaves printable text, including non-ASCII letters and backslashes, as it is', () => {
    expect(oneLine('café ñ € 😀 C:\\path')).toBe('café ñ € 😀 C:\\path');
  });

  it('never returns a control character, whatever the input', () => {
    const control = (c: string): boolean => { const n = c.charCodeAt(0); return n <= 0x1f || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029; };
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => ![...oneLine(s)].some(control)));
  });
});
