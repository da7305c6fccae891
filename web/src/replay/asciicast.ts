/**
 * asciicast v2 parser (https://docs.asciinema.org/manual/asciicast/v2/): the BFF records every
 * console terminal session in this format. The first line is a JSON header
 * `{"version":2,"width":W,"height":H,...}`, then one JSON array per line:
 *
 *   [t, "o", data]        output (what the terminal showed)
 *   [t, "i", data]        input (only when an admin turned keystroke recording on)
 *   [t, "r", "COLSxROWS"] resize
 *   [t, "m", label]       marker (e.g. "recording truncated: size budget reached")
 *
 * Any other event code (the BFF may end with an exit event `[t, "x", "3"]`) is skipped.
 *
 * Recordings run to tens of MiB, so the events are kept compact: one Float64Array of times, one
 * Uint8Array of kinds and one array of strings, instead of an object per event. The parser is
 * incremental (`push` text as it downloads, then `finish`), so parsing overlaps the download and
 * the whole file never has to sit in memory as one string.
 *
 * Errors: corrupt input throws an AsciicastError with a stable `code` and the 1-based `line`;
 * nothing else is ever thrown. A truncated LAST line (no newline after it, not valid JSON) is not
 * an error — the session may still be recording — it is dropped and reported in `warnings`.
 */

/** Event kinds as stored in `Asciicast.kinds`. */
export const EventKind = {
  Output: 0,
  Input: 1,
  Resize: 2,
  Marker: 3,
} as const;

export type EventKindValue = (typeof EventKind)[keyof typeof EventKind];

const kindCodes: Record<string, EventKindValue> = { o: EventKind.Output, i: EventKind.Input, r: EventKind.Resize, m: EventKind.Marker };

export interface AsciicastHeader {
  version: 2;
  /** Terminal size at the start. */
  width: number;
  height: number;
  /** Unix time (seconds) the recording started, when the header says. */
  timestamp: number | null;
  title: string | null;
  /** The recorder's suggested idle limit in seconds, when the header has one. */
  idleTimeLimit: number | null;
}

/** Something odd but playable. */
export interface AsciicastWarning {
  code: 'truncated_last_line';
  line: number;
  message: string;
}

/** A parsed recording: the header and the events as parallel arrays of `length` entries. */
export interface Asciicast {
  header: AsciicastHeader;
  length: number;
  /** Seconds since the start, never decreasing (a time that goes back is clamped). */
  times: Float64Array;
  kinds: Uint8Array;
  /** Output/input text, the resize "COLSxROWS", or the marker label. */
  data: string[];
  /** Events with an unknown code, skipped. */
  ignored: number;
  warnings: AsciicastWarning[];
}

export type AsciicastErrorCode =
  /** No header at all. */
  | 'empty'
  /** The first line is not an asciicast v2 header. */
  | 'bad_header'
  /** An event line is not JSON, or not an array. */
  | 'not_json_array'
  /** An event array has the wrong shape (time, code, data). */
  | 'bad_event'
  /** A line or the whole file is beyond what the browser is willing to hold. */
  | 'too_large'
  /** Anything unexpected (out of memory, say), so callers need handle one error type only. */
  | 'internal';

/** Why a recording cannot be played; `message` reads "line 57: not a JSON array". */
export class AsciicastError extends Error {
  constructor(
    readonly code: AsciicastErrorCode,
    /** 1-based line number, or null when the problem is not one line. */
    readonly line: number | null,
    /** The problem without the line prefix, e.g. "not a JSON array". */
    readonly reason: string,
  ) {
    super(line === null ? reason : `line ${line}: ${reason}`);
    this.name = 'AsciicastError';
  }
}

/** Longest single line accepted (one output event); the BFF writes far smaller ones. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Parses "COLSxROWS"; undefined unless both are integers in 1..65535. */
export function parseSize(text: string): { cols: number; rows: number } | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const cols = Number(m[1]);
  const rows = Number(m[2]);
  if (cols < 1 || rows < 1 || cols > 65535 || rows > 65535) return undefined;
  return { cols, rows };
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function parseHeader(line: string): AsciicastHeader {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new AsciicastError('bad_header', 1, 'header is not asciicast v2 (not JSON)');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AsciicastError('bad_header', 1, 'header is not asciicast v2 (not a JSON object)');
  const h = v as Record<string, unknown>;
  if (h.version !== 2) {
    const which = typeof h.version === 'number' ? ` (version ${h.version})` : '';
    throw new AsciicastError('bad_header', 1, `header is not asciicast v2${which}`);
  }
  if (!isSize(h.width) || !isSize(h.height)) throw new AsciicastError('bad_header', 1, 'header is not asciicast v2 (width and height must be positive integers)');
  const idle = h.idle_time_limit;
  return {
    version: 2,
    width: h.width,
    height: h.height,
    timestamp: typeof h.timestamp === 'number' && Number.isFinite(h.timestamp) ? h.timestamp : null,
    title: typeof h.title === 'string' ? h.title : null,
    idleTimeLimit: typeof idle === 'number' && Number.isFinite(idle) && idle > 0 ? idle : null,
  };
}

/** Incremental parser; see the module comment. Feed it with `push`, end with `finish`. */
export class AsciicastParser {
  #header: AsciicastHeader | null = null;
  /** Text after the last newline seen, waiting for the rest of its line. */
  #carry = '';
  #line = 0;
  #started = false;
  #times = new Float64Array(1024);
  #kinds = new Uint8Array(1024);
  #data: string[] = [];
  #length = 0;
  #lastTime = 0;
  #ignored = 0;
  #failed: AsciicastError | null = null;

  /** The header, once its line has arrived. */
  get header(): AsciicastHeader | null {
    return this.#header;
  }

  /** Events parsed so far. */
  get length(): number {
    return this.#length;
  }

  /** Parses every complete line in `chunk` (text may be split anywhere). Throws AsciicastError only. */
  push(chunk: string): void {
    this.#guard(() => {
      let text = chunk;
      if (!this.#started && text.length > 0) {
        this.#started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl === -1) break;
        const piece = text.slice(start, nl);
        const line = this.#carry === '' ? piece : this.#carry + piece;
        this.#carry = '';
        this.#onLine(line);
        start = nl + 1;
      }
      if (start < text.length) {
        if (this.#carry.length + text.length - start > MAX_LINE_CHARS) {
          throw new AsciicastError('too_large', this.#line + 1, `line is longer than ${MAX_LINE_CHARS / 1024 / 1024} MiB`);
        }
        this.#carry += text.slice(start);
      }
    });
  }

  /** Parses the last line and returns the recording. Throws AsciicastError only. */
  finish(): Asciicast {
    return this.#guard(() => {
      const warnings: AsciicastWarning[] = [];
      if (this.#carry !== '') {
        const last = this.#carry;
        this.#carry = '';
        try {
          this.#onLine(last);
        } catch (err) {
          // A last line without its newline that does not parse was cut off mid-write (the
          // session may still be recording). Only JSON damage is forgiven: a complete line with
          // a bad shape is corruption like any other. The header line is never forgiven.
          if (!(err instanceof AsciicastError) || err.code !== 'not_json_array' || this.#header === null) throw err;
          warnings.push({ code: 'truncated_last_line', line: this.#line, message: `line ${this.#line}: truncated last line (the session may still be recording); it was skipped` });
        }
      }
      if (this.#header === null) throw new AsciicastError('empty', null, 'the file is empty (no asciicast header)');
      const n = this.#length;
      return {
        header: this.#header,
        length: n,
        times: this.#times.slice(0, n),
        kinds: this.#kinds.slice(0, n),
        data: this.#data,
        ignored: this.#ignored,
        warnings,
      };
    });
  }

  /** Runs `fn`, turning anything it throws into an AsciicastError, and refusing use after one. */
  #guard<T>(fn: () => T): T {
    if (this.#failed !== null) throw this.#failed;
    try {
      return fn();
    } catch (err) {
      this.#failed = err instanceof AsciicastError ? err : new AsciicastError('internal', null, `could not be read (${err instanceof Error ? err.message : String(err)})`);
      throw this.#failed;
    }
  }

  #onLine(raw: string): void {
    this.#line++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > MAX_LINE_CHARS) throw new AsciicastError('too_large', this.#line, `line is longer than ${MAX_LINE_CHARS / 1024 / 1024} MiB`);
    if (line.trim() === '') return;
    if (this.#header === null) {
      // A header is always line 1; blank lines before it are not asciicast.
      if (this.#line !== 1) throw new AsciicastError('bad_header', this.#line, 'header is not asciicast v2 (the file does not start with it)');
      this.#header = parseHeader(line);
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new AsciicastError('not_json_array', this.#line, 'not a JSON array');
    }
    if (!Array.isArray(v)) throw new AsciicastError('not_json_array', this.#line, 'not a JSON array');
    const [t, code, data] = v as unknown[];
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new AsciicastError('bad_event', this.#line, 'event time is not a non-negative number');
    if (typeof code !== 'string') throw new AsciicastError('bad_event', this.#line, 'event code is not a string');
    const kind = kindCodes[code];
    if (kind === undefined) {
      this.#ignored++;
      return;
    }
    if (typeof data !== 'string') throw new AsciicastError('bad_event', this.#line, `"${code}" event data is not a string`);
    if (kind === EventKind.Resize && parseSize(data) === undefined) {
      throw new AsciicastError('bad_event', this.#line, `resize "${data.slice(0, 20)}" is not COLSxROWS`);
    }
    this.#add(Math.max(t, this.#lastTime), kind, data);
  }

  #add(t: number, kind: EventKindValue, data: string): void {
    if (this.#length === this.#times.length) {
      const times = new Float64Array(this.#times.length * 2);
      times.set(this.#times);
      this.#times = times;
      const kinds = new Uint8Array(this.#kinds.length * 2);
      kinds.set(this.#kinds);
      this.#kinds = kinds;
    }
    this.#times[this.#length] = t;
    this.#kinds[this.#length] = kind;
    this.#data.push(data);
    this.#length++;
    this.#lastTime = t;
  }
}

/** Parses a whole file at once. Throws AsciicastError only. */
export function parseAsciicast(text: string): Asciicast {
  const p = new AsciicastParser();
  p.push(text);
  return p.finish();
}
