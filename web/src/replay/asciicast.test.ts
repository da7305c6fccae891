import { describe, expect, it } from 'vitest';
import { AsciicastError, AsciicastParser, EventKind, parseAsciicast, parseSize } from './asciicast';

const header = '{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "title": "pump-17"}';
const cast = (...lines: string[]) => [header, ...lines].join('\n') + '\n';

/** The AsciicastError `fn` throws (fails the test when it throws anything else or nothing). */
function errorOf(fn: () => unknown): AsciicastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AsciicastError);
    return err as AsciicastError;
  }
  throw new Error('expected an AsciicastError');
}

describe('parseAsciicast', () => {
  it('reads the header and the events', () => {
    const c = parseAsciicast(cast('[0.5, "o", "hello"]', '[1.25, "i", "ls\\r"]', '[2, "r", "120x40"]', '[3, "m", "recording truncated: size budget reached"]'));
    expect(c.header).toEqual({ version: 2, width: 80, height: 24, timestamp: 1700000000, title: 'pump-17', idleTimeLimit: null });
    expect(c.length).toBe(4);
    expect(Array.from(c.times)).toEqual([0.5, 1.25, 2, 3]);
    expect(Array.from(c.kinds)).toEqual([EventKind.Output, EventKind.Input, EventKind.Resize, EventKind.Marker]);
    expect(c.data).toEqual(['hello', 'ls\r', '120x40', 'recording truncated: size budget reached']);
    expect(c.warnings).toEqual([]);
  });

  it('keeps escape sequences, control characters and UTF-8 intact', () => {
    const out = '\u001b[1;31mred\u001b[0m \u001b]0;title\u0007 ✓ 日本語 🙂 \r\n\t\u0000';
    const c = parseAsciicast(cast(JSON.stringify([0.1, 'o', out])));
    expect(c.data[0]).toBe(out);
  });

  it('parses text split at any point, CRLF line ends and a byte-order mark', () => {
    const text = '\ufeff' + cast('[0.1, "o", "a\\u001b[0m✓"]', '[0.2, "r", "100x30"]').replace(/\n/g, '\r\n');
    for (const size of [1, 2, 3, 7, 64]) {
      const p = new AsciicastParser();
      for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
      const c = p.finish();
      expect(c.data).toEqual(['a\u001b[0m✓', '100x30']);
      expect(c.header.width).toBe(80);
    }
  });

  it('parses resizes', () => {
    expect(parseSize('120x40')).toEqual({ cols: 120, rows: 40 });
    expect(parseSize('0x40')).toBeUndefined();
    expect(parseSize('120X40')).toBeUndefined();
    expect(parseSize('120x')).toBeUndefined();
    const err = errorOf(() => parseAsciicast(cast('[1, "r", "big"]')));
    expect(err.code).toBe('bad_event');
    expect(err.line).toBe(2);
    expect(err.message).toBe('line 2: resize "big" is not COLSxROWS');
  });

  it('skips unknown event codes such as the exit event', () => {
    const c = parseAsciicast(cast('[0.1, "o", "x"]', '[0.2, "x", "3"]', '[0.3, "z", 42]'));
    expect(c.length).toBe(1);
    expect(c.ignored).toBe(2);
  });

  it('skips blank lines and clamps times that go back', () => {
    const c = parseAsciicast(cast('[1, "o", "a"]', '', '[0.5, "o", "b"]'));
    expect(Array.from(c.times)).toEqual([1, 1]);
  });

  it('reads idle_time_limit from the header', () => {
    expect(parseAsciicast('{"version":2,"width":1,"height":1,"idle_time_limit":1.5}\n').header.idleTimeLimit).toBe(1.5);
  });

  it('names the line that is not a JSON array', () => {
    const lines = Array.from({ length: 55 }, (_, i) => `[${i}, "o", "x"]`);
    const err = errorOf(() => parseAsciicast(cast(...lines, '{"not": "an array"}', '[99, "o", "y"]')));
    expect(err.code).toBe('not_json_array');
    expect(err.line).toBe(57);
    expect(err.message).toBe('line 57: not a JSON array');
    expect(errorOf(() => parseAsciicast(cast('[0.1, "o", "ok"]', 'garbage', '[1, "o", "x"]'))).message).toBe('line 3: not a JSON array');
  });

  it('rejects events of the wrong shape', () => {
    expect(errorOf(() => parseAsciicast(cast('["soon", "o", "x"]'))).message).toBe('line 2: event time is not a non-negative number');
    expect(errorOf(() => parseAsciicast(cast('[-1, "o", "x"]'))).code).toBe('bad_event');
    expect(errorOf(() => parseAsciicast(cast('[1, 2, "x"]'))).message).toBe('line 2: event code is not a string');
    expect(errorOf(() => parseAsciicast(cast('[1, "o"]'))).message).toBe('line 2: "o" event data is not a string');
  });

  it('rejects a file that is not asciicast v2', () => {
    for (const text of ['{"version": 1, "width": 80, "height": 24, "stdout": []}\n', '{"version": 3, "term": {"cols": 80, "rows": 24}}\n']) {
      const err = errorOf(() => parseAsciicast(text));
      expect(err.code).toBe('bad_header');
      expect(err.message).toMatch(/^line 1: header is not asciicast v2/);
    }
    expect(errorOf(() => parseAsciicast('<html>Gateway timeout</html>\n')).code).toBe('bad_header');
    expect(errorOf(() => parseAsciicast('[0.1, "o", "no header"]\n')).code).toBe('bad_header');
    expect(errorOf(() => parseAsciicast('{"version": 2, "width": 0, "height": 24}\n')).code).toBe('bad_header');
    expect(errorOf(() => parseAsciicast('\n' + header + '\n')).code).toBe('bad_header');
  });

  it('rejects an empty file', () => {
    expect(errorOf(() => parseAsciicast('')).code).toBe('empty');
    expect(errorOf(() => parseAsciicast('\n\n')).code).toBe('empty');
  });

  it('tolerates a truncated last line with a warning (the session may still be recording)', () => {
    const c = parseAsciicast(`${header}\n[0.1, "o", "a"]\n[0.2, "o", "b`);
    expect(c.data).toEqual(['a']);
    expect(c.warnings).toEqual([{ code: 'truncated_last_line', line: 3, message: 'line 3: truncated last line (the session may still be recording); it was skipped' }]);
    // A complete last line without its newline is simply the last event.
    expect(parseAsciicast(`${header}\n[0.1, "o", "a"]`).data).toEqual(['a']);
  });

  it('does not forgive a truncated line that is not the last one, nor a truncated header', () => {
    expect(errorOf(() => parseAsciicast(`${header}\n[0.2, "o", "b\n[0.3, "o", "c"]\n`)).message).toBe('line 2: not a JSON array');
    expect(errorOf(() => parseAsciicast('{"version": 2, "wid')).code).toBe('bad_header');
    // A complete but wrong last line is corruption, not truncation.
    expect(errorOf(() => parseAsciicast(`${header}\n[0.1, "o", 5]`)).code).toBe('bad_event');
  });

  it('throws nothing but AsciicastError, and keeps failing after the first error', () => {
    const p = new AsciicastParser();
    p.push(header + '\n');
    expect(errorOf(() => p.push('nope\n')).line).toBe(2);
    expect(errorOf(() => p.push('[1, "o", "fine"]\n')).line).toBe(2);
    expect(errorOf(() => p.finish()).line).toBe(2);
  });

  it('stores many events compactly', () => {
    const p = new AsciicastParser();
    p.push(header + '\n');
    for (let i = 0; i < 5000; i++) p.push(`[${i / 100}, "o", "line ${i}\\r\\n"]\n`);
    const c = p.finish();
    expect(c.length).toBe(5000);
    expect(c.times).toBeInstanceOf(Float64Array);
    expect(c.times.length).toBe(5000);
    expect(c.data[4999]).toBe('line 4999\r\n');
  });
});
