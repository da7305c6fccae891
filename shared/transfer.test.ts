import { describe, expect, it } from 'vitest';
import { MAX_TRANSFER_NAME_CHARS, TransferHeaderError, encodeTransferHeader, parseTransferHeader, transferName } from './transfer.js';

describe('transfer header', () => {
  it('round-trips a direction and a path with spaces, percent signs and non-ASCII characters', () => {
    for (const path of ['logs/app.log', 'a b/100%.txt', 'données/é😀.bin', '../x']) {
      expect(parseTransferHeader(encodeTransferHeader('upload', path))).toEqual({ direction: 'upload', name: path });
      expect(parseTransferHeader(encodeTransferHeader('download', path))).toEqual({ direction: 'download', name: path });
    }
  });

  it('keeps the last 255 characters of a longer path after "…", and control characters become "?"', () => {
    const long = `${'d/'.repeat(300)}file.bin`;
    const name = transferName(long);
    expect(Array.from(name)).toHaveLength(MAX_TRANSFER_NAME_CHARS);
    expect(name.startsWith('…')).toBe(true);
    expect(name.endsWith('/file.bin')).toBe(true);
    expect(transferName('a\nb\u0000c')).toBe('a?b?c');
    expect(parseTransferHeader(encodeTransferHeader('upload', long)).name).toBe(name);
  });

  it('refuses another direction, a missing or empty name, bad percent-encoding, control characters and names past 256 characters', () => {
    for (const bad of ['put x', 'upload', 'upload ', 'upload %E0%A4%A', 'upload a%0Ab', `download ${'x'.repeat(MAX_TRANSFER_NAME_CHARS + 1)}`, 'upload a b']) {
      expect(() => parseTransferHeader(bad), bad).toThrow(TransferHeaderError);
    }
    expect(parseTransferHeader(`download ${'x'.repeat(MAX_TRANSFER_NAME_CHARS)}`).name).toHaveLength(MAX_TRANSFER_NAME_CHARS);
  });
});
