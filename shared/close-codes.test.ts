import { describe, expect, it } from 'vitest';
import { CloseCode, describeClose } from './close-codes.js';

describe('CloseCode', () => {
  it('uses RFC 6455 codes or the 4000-4999 private range, each once', () => {
    const values = Object.values(CloseCode);
    expect(new Set(values).size).toBe(values.length);
    for (const code of values) expect(code === 1000 || code === 1001 || code === 1009 || code === 1011 || (code >= 4000 && code <= 4999)).toBe(true);
  });

  it('every code has its own sentence', () => {
    const sentences = Object.values(CloseCode).map((c) => describeClose(c));
    for (const s of sentences) expect(s).not.toMatch(/^closed with code/);
    expect(new Set(sentences).size).toBe(sentences.length);
  });
});

describe('describeClose', () => {
  it('describes known codes', () => {
    expect(describeClose(CloseCode.Normal)).toBe('closed normally');
    expect(describeClose(CloseCode.MessageTooBig)).toBe('frame larger than 64 KiB');
    expect(describeClose(1006)).toBe('connection lost');
    expect(describeClose(CloseCode.HandshakeTimeout)).toBe('handshake timed out');
  });

  it('falls back for unknown codes', () => {
    expect(describeClose(4999)).toBe('closed with code 4999');
    expect(describeClose(3000, 'custom')).toBe('closed with code 3000: custom');
  });

  it('appends a reason unless it is empty or repeats the sentence', () => {
    expect(describeClose(CloseCode.ProtocolError, 'unknown frame type 9')).toBe('protocol error: unknown frame type 9');
    expect(describeClose(CloseCode.ProtocolError, '')).toBe('protocol error');
    expect(describeClose(CloseCode.ProtocolError, undefined)).toBe('protocol error');
    expect(describeClose(CloseCode.Replaced, 'replaced by a newer connection')).toBe('replaced by a newer connection');
  });
});
