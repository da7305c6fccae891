import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

/** A stand-in for stderr that records what is written. */
function fakeStderr(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) {
    s.text += chunk;
    return true;
  } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('progress line', () => {
  it('redraws one line in place on a terminal and ends it with the final figures and a newline', () => {
    const err = fakeStderr(true);
    const p = createProgress('a.bin → dev:a.bin', 4 * 1024 * 1024, err);
    p.update(1024 * 1024);
    p.update(2 * 1024 * 1024);
    p.update(4 * 1024 * 1024);
    p.done();
    expect(err.text.startsWith('\r\x1b[Ka.bin → dev:a.bin  1.0 / 4.0 MiB  25%')).toBe(true);
    const last = err.text.slice(err.text.lastIndexOf('\r'));
    expect(last.startsWith('\r\x1b[Ka.bin → dev:a.bin  4.0 / 4.0 MiB  100%  ')).toBe(true);
    expect(last.endsWith(' MiB/s\n')).toBe(true);
    expect(err.text.split('\n')).toHaveLength(2);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const err = fakeStderr(false);
    const p = createProgress('x', 10, err);
    p.update(5);
    p.done();
    expect(err.text).toBe('');
  });
});
