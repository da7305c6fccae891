/**
 * The player's arithmetic, kept pure so it is easy to test: the playback timeline (recorded times
 * with long idle gaps compressed), where to take seek keyframes, and the m:ss clock.
 */
import { EventKind, type Asciicast } from './asciicast';

/**
 * Event times as the player plays them. With an idle limit, every gap between two events longer
 * than the limit counts as the limit (as asciinema's `idle_time_limit` does), so a session that
 * sat idle for an hour does not make the viewer wait for an hour.
 */
export class Timeline {
  /** Playback time of each event, seconds, non-decreasing. */
  readonly times: Float64Array;
  /** Playback time of the last event (0 for an empty recording). */
  readonly duration: number;

  constructor(recorded: Float64Array, idleLimitSeconds: number | null) {
    const n = recorded.length;
    const times = new Float64Array(n);
    let prev = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const t = recorded[i] ?? prev;
      const gap = t - prev;
      at += idleLimitSeconds !== null && gap > idleLimitSeconds ? idleLimitSeconds : gap;
      times[i] = at;
      prev = t;
    }
    this.times = times;
    this.duration = n === 0 ? 0 : at;
  }

  /** How many events are due by playback time `t` (those with a time ≤ t). */
  countAt(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] ?? 0) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Playback time of event `i` (0 before the first). */
  timeOf(i: number): number {
    return i <= 0 ? 0 : (this.times[Math.min(i, this.times.length) - 1] ?? 0);
  }
}

/**
 * Output characters before each event: `before[i]` is the output text length of events [0, i).
 * Used to tell how much a seek would have to write from a given point.
 */
export function outputCharsBefore(cast: Pick<Asciicast, 'length' | 'kinds' | 'data'>): Float64Array {
  const before = new Float64Array(cast.length + 1);
  let sum = 0;
  for (let i = 0; i < cast.length; i++) {
    before[i] = sum;
    if (cast.kinds[i] === EventKind.Output) sum += cast.data[i]?.length ?? 0;
  }
  before[cast.length] = sum;
  return before;
}

/** Escape sequences (CSI, OSC, and two-character ones), which draw nothing a person would see. */
// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])|[\x00-\x1f\x7f]/g;

/**
 * The index of the first output event that draws something visible (a character other than a
 * space once escape sequences and controls are taken out), or -1. A shell's first output is often
 * only a mode switch (bracketed paste), which would leave a "first frame" blank.
 */
export function firstVisibleOutput(cast: Pick<Asciicast, 'length' | 'kinds' | 'data'>): number {
  for (let i = 0; i < cast.length; i++) {
    if (cast.kinds[i] === EventKind.Output && /\S/.test((cast.data[i] ?? '').replace(ESCAPES, ''))) return i;
  }
  return -1;
}

export interface KeyframePolicy {
  /** Take a keyframe once this much output has gone by since the last one. */
  maxChars: number;
  /** …or once this much recorded time has, if there was output since. */
  maxSeconds: number;
}

/** An escape sequence open longer than this (a huge OSC) is not followed any further. */
const MAX_OPEN_SEQUENCE_CHARS = 64 * 1024;

/**
 * Where the indexer snapshots the screen: event counts k such that a keyframe holds the screen
 * after events [0, k). Count 0 (the empty screen at the header's size) is implicit and not listed.
 * Spacing bounds the work of a seek: at most about `maxChars` of output to write after a keyframe.
 */
export function planKeyframes(cast: Pick<Asciicast, 'length' | 'kinds' | 'data' | 'times'>, policy: KeyframePolicy): number[] {
  const out: number[] = [];
  let chars = 0;
  let sinceTime = 0;
  // An escape sequence still open at the end of the output so far (it may span several events).
  let open = '';
  for (let i = 0; i < cast.length; i++) {
    if (cast.kinds[i] !== EventKind.Output) continue;
    const data = cast.data[i] ?? '';
    chars += data.length;
    const text = open === '' ? data : open + data;
    open = endsInsideEscape(text) ? text.slice(text.lastIndexOf('\x1b')) : '';
    // A string sequence this long (a huge OSC) is given up on rather than carried further.
    if (open.length > MAX_OPEN_SEQUENCE_CHARS) open = '';
    const t = cast.times[i] ?? 0;
    // A keyframe must not fall inside an escape sequence: a restored terminal starts with a fresh
    // parser and would print the rest of the sequence as text. Such a point moves to a later one.
    if ((chars >= policy.maxChars || t - sinceTime >= policy.maxSeconds) && open === '') {
      out.push(i + 1);
      chars = 0;
      sinceTime = t;
    }
  }
  return out;
}

/**
 * Whether output text ends in the middle of an escape sequence (an ESC, a CSI without its final
 * byte, an OSC without its BEL, a DCS or other string without its ST). Output is split wherever
 * the PTY read ended, so this happens.
 */
export function endsInsideEscape(text: string): boolean {
  const esc = text.lastIndexOf('\x1b');
  if (esc === -1) return false;
  if (esc === text.length - 1) return true;
  const kind = text[esc + 1] ?? '';
  // CSI: parameters, intermediates, then a final byte (looked for within a sane length).
  if (kind === '[') return !/^\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]/.test(text.slice(esc + 1, esc + 258));
  // OSC ends with BEL, or with ST (ESC + backslash), whose ESC would be the last one.
  if (kind === ']') return text.indexOf('\x07', esc) === -1;
  // DCS, SOS, PM, APC end with ST only.
  if (kind === 'P' || kind === 'X' || kind === '^' || kind === '_') return true;
  // ESC ( 0 and the like: an intermediate byte, then the final one.
  if (kind >= ' ' && kind <= '/') return esc + 2 >= text.length;
  return false;
}

/** The position in the sorted `points` of the last entry ≤ `n`, or -1 when there is none. */
export function lastAtOrBefore(points: readonly number[], n: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] ?? 0) <= n) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * "m:ss" (minutes unbounded: "75:03"), for the time display. Positions round down; a length
 * rounds up (`up`), so a recording shorter than a second reads 0:01, not 0:00, as the slider's
 * top (its whole seconds, rounded up) does.
 */
export function formatClock(seconds: number, round: 'down' | 'up' = 'down'): string {
  const s = Number.isFinite(seconds) && seconds > 0 ? (round === 'up' ? Math.ceil(seconds) : Math.floor(seconds)) : 0;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
