import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatRelative, fromLocalInputValue, toLocalInputValue } from './format';

describe('format', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MiB');
  });

  it('formats durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2 h 03 min');
  });

  it('formats relative times', () => {
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(formatRelative('2025-01-01T11:59:58Z', now)).toBe('just now');
    expect(formatRelative('bad', now)).toBe('—');
    expect(formatRelative('2025-01-01T11:55:00Z', now)).toMatch(/5/);
  });

  it('round-trips datetime-local values', () => {
    const ms = new Date(2025, 0, 2, 3, 4).getTime();
    expect(toLocalInputValue(ms)).toBe('2025-01-02T03:04');
    expect(fromLocalInputValue('2025-01-02T03:04')).toBe(ms);
    expect(fromLocalInputValue('')).toBeUndefined();
  });
});
