import { describe, expect, it } from 'vitest';
import { parseAsciicast } from './asciicast';
import { Timeline, endsInsideEscape, firstVisibleOutput, formatClock, lastAtOrBefore, outputCharsBefore, planKeyframes } from './timeline';

const times = (...t: number[]) => Float64Array.from(t);

describe('Timeline', () => {
  it('plays recorded times as they are without an idle limit', () => {
    const tl = new Timeline(times(0.5, 1, 10, 10.5), null);
    expect(Array.from(tl.times)).toEqual([0.5, 1, 10, 10.5]);
    expect(tl.duration).toBe(10.5);
  });

  it('compresses gaps longer than the idle limit to the limit', () => {
    const tl = new Timeline(times(0.5, 1, 10, 10.5, 3600), 2);
    expect(Array.from(tl.times)).toEqual([0.5, 1, 3, 3.5, 5.5]);
    expect(tl.duration).toBe(5.5);
  });

  it('counts the events due at a time', () => {
    const tl = new Timeline(times(1, 2, 2, 3), null);
    expect(tl.countAt(0)).toBe(0);
    expect(tl.countAt(1)).toBe(1);
    expect(tl.countAt(2.5)).toBe(3);
    expect(tl.countAt(99)).toBe(4);
    expect(tl.timeOf(0)).toBe(0);
    expect(tl.timeOf(3)).toBe(2);
    expect(tl.timeOf(4)).toBe(3);
  });

  it('handles an empty recording', () => {
    const tl = new Timeline(times(), 2);
    expect(tl.duration).toBe(0);
    expect(tl.countAt(5)).toBe(0);
  });
});

describe('keyframes', () => {
  const cast = parseAsciicast(
    [
      '{"version":2,"width":80,"height":24}',
      '[0, "o", "aaaa"]',
      '[1, "i", "ignored input"]',
      '[2, "o", "bbbb"]',
      '[3, "r", "100x30"]',
      '[4, "o", "cc"]',
      '[100, "o", "d"]',
      '[101, "o", "e"]',
    ].join('\n'),
  );

  it('counts output characters before each event', () => {
    expect(Array.from(outputCharsBefore(cast))).toEqual([0, 4, 4, 8, 8, 10, 11, 12]);
  });

  it('plans a keyframe after every maxChars of output or maxSeconds of time', () => {
    expect(planKeyframes(cast, { maxChars: 8, maxSeconds: 30 })).toEqual([3, 6]);
    expect(planKeyframes(cast, { maxChars: 1000, maxSeconds: 30 })).toEqual([6]);
    expect(planKeyframes(cast, { maxChars: 1, maxSeconds: 1e9 })).toEqual([1, 3, 5, 6, 7]);
  });

  it('finds the last keyframe at or before an event count', () => {
    expect(lastAtOrBefore([3, 6, 9], 2)).toBe(-1);
    expect(lastAtOrBefore([3, 6, 9], 3)).toBe(0);
    expect(lastAtOrBefore([3, 6, 9], 8)).toBe(1);
    expect(lastAtOrBefore([3, 6, 9], 100)).toBe(2);
    expect(lastAtOrBefore([], 100)).toBe(-1);
  });
});

describe('endsInsideEscape', () => {
  it('tells complete sequences from cut ones', () => {
    for (const done of ['plain', '\u001b[0m', 'a\u001b[1;31mred', '\u001b[?1049h', '\u001b]0;title\u0007', '\u001b(0', '\u001b7', '\u001bP1$r\u001b\\']) {
      expect(endsInsideEscape(done)).toBe(false);
    }
    for (const cut of ['\u001b', 'a\u001b[', '\u001b[1;3', '\u001b[?10', '\u001b]0;tit', '\u001b(', '\u001bPq#0']) {
      expect(endsInsideEscape(cut)).toBe(true);
    }
  });

  it('moves a keyframe off a point inside an escape sequence', () => {
    const c = parseAsciicast(['{"version":2,"width":80,"height":24}', '[0, "o", "aaaa\\u001b[1"]', '[0.1, "o", ";31mbbbb"]'].join('\n'));
    expect(planKeyframes(c, { maxChars: 4, maxSeconds: 30 })).toEqual([2]);
  });

  it('follows an escape sequence split over several events', () => {
    const events = ['"a\\u001b["', '"1;3"', '"4mblue"', '"\\u001b]0;ti"', '"tle"', '"\\u0007x"'];
    const c = parseAsciicast(['{"version":2,"width":80,"height":24}', ...events.map((e, i) => `[${i}, "o", ${e}]`)].join('\n'));
    expect(planKeyframes(c, { maxChars: 1, maxSeconds: 30 })).toEqual([3, 6]);
  });
});

describe('formatClock', () => {
  it('formats m:ss', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(5.9)).toBe('0:05');
    expect(formatClock(65)).toBe('1:05');
    expect(formatClock(4503)).toBe('75:03');
    expect(formatClock(Number.NaN)).toBe('0:00');
  });

  it('rounds a length up, so a recording shorter than a second is 0:01 long', () => {
    expect(formatClock(0.9, 'up')).toBe('0:01');
    expect(formatClock(60.2, 'up')).toBe('1:01');
    expect(formatClock(60, 'up')).toBe('1:00');
    expect(formatClock(0, 'up')).toBe('0:00');
  });

  it('finds the first output that draws something, past mode switches, colours and blanks', () => {
    const cast = parseAsciicast(
      '{"version":2,"width":80,"height":24}\n[0.1,"o","\\u001b[?2004h"]\n[0.2,"i","ls"]\n[0.3,"o","\\u001b]0;title\\u0007\\u001b[1;32m \\r\\n"]\n[0.4,"o","\\u001b[0m$ "]\n',
    );
    expect(firstVisibleOutput(cast)).toBe(3);
    expect(firstVisibleOutput(parseAsciicast('{"version":2,"width":80,"height":24}\n[0.1,"o","\\u001b[?2004h"]\n'))).toBe(-1);
  });
});
