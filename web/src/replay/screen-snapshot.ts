/**
 * Screen snapshots for seek keyframes: `serializeScreen` turns an xterm Terminal's current screen
 * into a string of text and escape sequences that, written into a freshly reset terminal of the
 * same size, shows the same screen (characters, colours and attributes, the last lines of
 * scrollback, the alternate screen, the cursor) and leaves it in the state the recorded program
 * relies on for its next output.
 *
 * Some of that state is not in xterm's public API (the scroll region, the current SGR "pen",
 * whether the cursor is hidden, the G0 line-drawing charset, the cursor saved by DECSC or 1049h),
 * so a ScreenStateTracker hooks the terminal's parser and follows the sequences that change it.
 * Not restored: tab stops, G1–G3 charsets, the window title, cursor style, underline styles and
 * colours, mouse and keyboard modes (they only concern input) — a program that relies on one of
 * those across a keyframe shows a small glitch until it redraws. (@xterm/addon-serialize would do
 * the cell part; it is not a dependency, and the tracker would still be needed.)
 *
 * xterm is only used through types here, so the pure helpers can be tested without a DOM.
 */
import type { IBuffer, IBufferCell, IBufferLine, IDisposable, Terminal } from '@xterm/xterm';

/** A CSI parameter list as xterm's parser hands it over (sub-parameters as arrays). */
export type CsiParams = (number | number[])[];

/** The text of a CSI parameter list, e.g. [1, [38, 2, -1, 255, 0, 0]] → "1;38:2::255:0:0". */
export function csiParamsText(params: CsiParams): string {
  return params.map((p) => (Array.isArray(p) ? p.map((x) => (x < 0 ? '' : String(x))).join(':') : String(p))).join(';');
}

/**
 * Whether an SGR parameter list resets the attributes (an empty list or a 0 that is a parameter
 * of its own, not the colour number of a 38;5;0 or 48;2;0;0;0).
 */
export function sgrResets(params: CsiParams): boolean {
  if (params.length === 0) return true;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (Array.isArray(p)) continue;
    if (p === 0) return true;
    if (p === 38 || p === 48 || p === 58) {
      const mode = params[i + 1];
      if (mode === 5) i += 2;
      else if (mode === 2) i += 4;
    }
  }
  return false;
}

/** At most this many SGR sequences are remembered since the last reset; older ones are dropped. */
const MAX_PEN_SEQUENCES = 32;

type BufferType = IBuffer['type'];

/** A cursor saved by DECSC: position (0-based, on the screen), pen and charset. */
export interface SavedCursor {
  x: number;
  y: number;
  pen: string[];
  lineDrawing: boolean;
}

function penText(pen: readonly string[]): string {
  let out = '\x1b[0m';
  for (const p of pen) out += `\x1b[${p}m`;
  return out;
}

/** A scroll region, 1-based and inclusive, as DECSTBM sets it. */
export interface ScrollRegion {
  top: number;
  bottom: number;
}

/** Follows the parser state a snapshot needs but xterm does not expose; see the module comment. */
export class ScreenStateTracker implements IDisposable {
  readonly #terminal: Terminal;
  readonly #disposables: IDisposable[] = [];
  /** SGR parameter texts since the last reset, in order. */
  #pen: string[] = [];
  #regions: Record<BufferType, ScrollRegion | null> = { normal: null, alternate: null };
  #cursorHidden = false;
  #lineDrawing = false;
  /** What DECSC (and the like) saved in each buffer, for DECRC to bring back. */
  #saved: Record<BufferType, SavedCursor | null> = { normal: null, alternate: null };

  constructor(terminal: Terminal) {
    this.#terminal = terminal;
    const p = terminal.parser;
    // Each handler returns false, so xterm's own handler still runs after it.
    this.#disposables.push(
      p.registerCsiHandler({ final: 'm' }, (params) => {
        const text = csiParamsText(params);
        if (sgrResets(params)) this.#pen = [text];
        else {
          this.#pen.push(text);
          if (this.#pen.length > MAX_PEN_SEQUENCES) this.#pen.shift();
        }
        return false;
      }),
      p.registerCsiHandler({ final: 'r' }, (params) => {
        this.#setRegion(params);
        return false;
      }),
      // These run before xterm's own handler, so the active buffer is the one before a switch.
      p.registerCsiHandler({ prefix: '?', final: 'h' }, (params) => {
        if (params.includes(25)) this.#cursorHidden = false;
        if (params.includes(1048) || params.includes(1049)) this.#save();
        return false;
      }),
      p.registerCsiHandler({ prefix: '?', final: 'l' }, (params) => {
        if (params.includes(25)) this.#cursorHidden = true;
        if (params.includes(1048)) this.#restore(this.#terminal.buffer.active.type);
        // Back on the normal screen, the cursor saved there comes back.
        if (params.includes(1049)) this.#restore('normal');
        return false;
      }),
      // DECSC/DECRC and their CSI forms.
      p.registerEscHandler({ final: '7' }, () => this.#save()),
      p.registerEscHandler({ final: '8' }, () => this.#restore(this.#terminal.buffer.active.type)),
      p.registerCsiHandler({ final: 's' }, () => this.#save()),
      p.registerCsiHandler({ final: 'u' }, () => this.#restore(this.#terminal.buffer.active.type)),
      // DECSTR (soft reset) and RIS (full reset).
      p.registerCsiHandler({ intermediates: '!', final: 'p' }, () => {
        const type = this.#terminal.buffer.active.type;
        this.#pen = [];
        this.#regions[type] = null;
        this.#saved[type] = null;
        this.#cursorHidden = false;
        this.#lineDrawing = false;
        return false;
      }),
      p.registerEscHandler({ final: 'c' }, () => {
        this.#pen = [];
        this.#regions = { normal: null, alternate: null };
        this.#saved = { normal: null, alternate: null };
        this.#cursorHidden = false;
        this.#lineDrawing = false;
        return false;
      }),
      p.registerEscHandler({ intermediates: '(', final: '0' }, () => {
        this.#lineDrawing = true;
        return false;
      }),
      p.registerEscHandler({ intermediates: '(', final: 'B' }, () => {
        this.#lineDrawing = false;
        return false;
      }),
      // xterm resets both margins of both buffers on every resize.
      terminal.onResize(() => {
        this.#regions = { normal: null, alternate: null };
      }),
    );
  }

  /** The SGR sequences that recreate the current pen, starting from a reset. */
  get penSequence(): string {
    return penText(this.#pen);
  }

  /** What DECSC saved in a buffer (null when nothing was). */
  saved(type: BufferType): SavedCursor | null {
    return this.#saved[type];
  }

  /** The scroll region of a buffer, or null when it is the whole screen. */
  region(type: BufferType): ScrollRegion | null {
    const r = this.#regions[type];
    return r !== null && (r.top !== 1 || r.bottom !== this.#terminal.rows) ? r : null;
  }

  get cursorHidden(): boolean {
    return this.#cursorHidden;
  }

  get lineDrawing(): boolean {
    return this.#lineDrawing;
  }

  dispose(): void {
    for (const d of this.#disposables.splice(0)) d.dispose();
  }

  #save(): false {
    const b = this.#terminal.buffer.active;
    this.#saved[b.type] = { x: b.cursorX, y: b.cursorY, pen: [...this.#pen], lineDrawing: this.#lineDrawing };
    return false;
  }

  /** As xterm does: with nothing saved, the default pen and charset. */
  #restore(type: BufferType): false {
    const s = this.#saved[type];
    this.#pen = s === null ? [] : [...s.pen];
    this.#lineDrawing = s?.lineDrawing ?? false;
    return false;
  }

  /** Mirrors xterm's setScrollRegion: invalid regions are ignored. */
  #setRegion(params: CsiParams): void {
    const rows = this.#terminal.rows;
    const a = params[0];
    const b = params[1];
    const top = typeof a === 'number' && a > 0 ? a : 1;
    const bottom = typeof b === 'number' && b > 0 && b <= rows ? b : rows;
    if (bottom > top) this.#regions[this.#terminal.buffer.active.type] = { top, bottom };
  }
}

/** The SGR sequence that sets exactly a cell's attributes (from a reset). */
export function cellSgr(cell: IBufferCell): string {
  let p = '0';
  if (cell.isBold()) p += ';1';
  if (cell.isDim()) p += ';2';
  if (cell.isItalic()) p += ';3';
  if (cell.isUnderline()) p += ';4';
  if (cell.isBlink()) p += ';5';
  if (cell.isInverse()) p += ';7';
  if (cell.isInvisible()) p += ';8';
  if (cell.isStrikethrough()) p += ';9';
  if (cell.isOverline()) p += ';53';
  if (cell.isFgRGB()) p += `;38;2;${rgb(cell.getFgColor())}`;
  else if (cell.isFgPalette()) p += `;${palette(cell.getFgColor(), 30, 90, 38)}`;
  if (cell.isBgRGB()) p += `;48;2;${rgb(cell.getBgColor())}`;
  else if (cell.isBgPalette()) p += `;${palette(cell.getBgColor(), 40, 100, 48)}`;
  return `\x1b[${p}m`;
}

function rgb(c: number): string {
  return `${(c >>> 16) & 0xff};${(c >>> 8) & 0xff};${c & 0xff}`;
}

function palette(c: number, base: number, bright: number, extended: number): string {
  if (c < 8) return String(base + c);
  if (c < 16) return String(bright + c - 8);
  return `${extended};5;${c}`;
}

/** Whether two cells look the same apart from their character. */
function sameAttributes(a: IBufferCell, fgMode: number, fg: number, bgMode: number, bg: number, flags: number): boolean {
  return a.getFgColorMode() === fgMode && a.getFgColor() === fg && a.getBgColorMode() === bgMode && a.getBgColor() === bg && attributeFlags(a) === flags;
}

function attributeFlags(c: IBufferCell): number {
  return (
    (c.isBold() ? 1 : 0) |
    (c.isDim() ? 2 : 0) |
    (c.isItalic() ? 4 : 0) |
    (c.isUnderline() ? 8 : 0) |
    (c.isBlink() ? 16 : 0) |
    (c.isInverse() ? 32 : 0) |
    (c.isInvisible() ? 64 : 0) |
    (c.isStrikethrough() ? 128 : 0) |
    (c.isOverline() ? 256 : 0)
  );
}

/**
 * A cell that a reset terminal already holds: never written, no attributes. (A written space is
 * kept: it looks the same, but it is copied with the selection.)
 */
function isBlank(c: IBufferCell): boolean {
  return c.getChars() === '' && c.isAttributeDefault();
}

/**
 * One buffer line as text with SGR changes; the caller must have reset the pen before it (the
 * first cell with attributes sets them, a plain first cell sets nothing). Trailing blank cells are
 * left out. Returns the text and whether it reaches the last column (so the next character written
 * would wrap).
 */
export function serializeLine(line: IBufferLine, cols: number, cell: IBufferCell): { text: string; reachesEnd: boolean } {
  let last = cols - 1;
  while (last >= 0) {
    const c = line.getCell(last, cell);
    if (c !== undefined && !isBlank(c)) break;
    last--;
  }
  let text = '';
  let fgMode = 0;
  let fg = 0;
  let bgMode = 0;
  let bg = 0;
  let flags = 0;
  let end = 0;
  for (let x = 0; x <= last; x++) {
    const c = line.getCell(x, cell);
    if (c === undefined) break;
    const width = c.getWidth();
    // The right half of a wide character: written with its left half.
    if (width === 0) continue;
    if (!sameAttributes(c, fgMode, fg, bgMode, bg, flags)) {
      fgMode = c.getFgColorMode();
      fg = c.getFgColor();
      bgMode = c.getBgColorMode();
      bg = c.getBgColor();
      flags = attributeFlags(c);
      text += cellSgr(c);
    }
    const ch = c.getChars();
    text += ch === '' ? ' ' : ch;
    end = x + width;
  }
  return { text, reachesEnd: end >= cols };
}

/** How the snapshot is cut. */
export interface SnapshotOptions {
  /** Lines of scrollback above the screen to keep (they scroll into the restored scrollback). */
  scrollbackLines: number;
}

/**
 * The whole screen state as a string to write into a reset terminal of the same size; see the
 * module comment. Call it between writes (in a write callback), never while xterm is parsing.
 */
export function serializeScreen(terminal: Terminal, tracker: ScreenStateTracker, options: SnapshotOptions): string {
  const cols = terminal.cols;
  const rows = terminal.rows;
  const normal = terminal.buffer.normal;
  const active = terminal.buffer.active;
  const cell = normal.getNullCell();
  let out = '';

  // The normal buffer: some scrollback, then the screen, line after line, so that the lines above
  // the screen scroll into the scrollback. A full line that continues on the next (a soft wrap) is
  // not followed by a line break: the next character wraps, so the restored lines are joined as
  // they were (which matters when a later resize reflows them).
  const end = normal.length;
  const start = Math.max(0, end - rows - options.scrollbackLines);
  for (let y = start; y < end; y++) {
    const line = normal.getLine(y);
    const nextWraps = y + 1 < end && normal.getLine(y + 1)?.isWrapped === true;
    const { text, reachesEnd } = line === undefined ? { text: '', reachesEnd: false } : serializeLine(line, cols, cell);
    out += text;
    // Each line starts from the default pen (serializeLine's assumption); the pen is reset before
    // the line break too, since a line scrolled in is filled with the current background.
    out += '\x1b[0m';
    if (y < end - 1 && !(nextWraps && reachesEnd)) out += '\r\n';
  }

  if (active.type === 'alternate') {
    // Where the program left the normal screen, so leaving the alternate one restores it: 1049h
    // saves the cursor (with the pen and charset of that moment) and switches, clearing the screen.
    out += regionSequence(tracker.region('normal'));
    out += cup(normal.cursorY, normal.cursorX, cols);
    const s = tracker.saved('normal');
    if (s !== null) out += penText(s.pen) + (s.lineDrawing ? '\x1b(0' : '');
    out += '\x1b[?1049h\x1b[0m\x1b(B';
    for (let y = 0; y < rows; y++) {
      const line = active.getLine(active.baseY + y);
      if (line === undefined) continue;
      const { text } = serializeLine(line, cols, cell);
      if (text !== '') out += `\x1b[${y + 1};1H${text}\x1b[0m`;
    }
  }
  // A cursor the program saved (DECSC) on this screen, saved again the same way.
  const saved = tracker.saved(active.type);
  if (saved !== null) {
    out += `${cup(Math.min(saved.y, rows - 1), saved.x, cols)}${penText(saved.pen)}${saved.lineDrawing ? '\x1b(0' : ''}\x1b7\x1b[0m\x1b(B`;
  }

  const region = tracker.region(active.type);
  out += regionSequence(region);
  const origin = terminal.modes.originMode;
  if (origin) out += '\x1b[?6h';
  const rowOffset = origin && region !== null ? region.top - 1 : 0;
  const cy = active.cursorY - rowOffset + 1;
  if (active.cursorX >= cols) {
    // The cursor waits to wrap after the last column: rewrite the last cell to get there again.
    out += `\x1b[${cy};${cols}H`;
    const line = active.getLine(active.baseY + active.cursorY);
    const c = line?.getCell(cols - 1, cell);
    if (c !== undefined && c.getWidth() === 1) out += `${cellSgr(c)}${c.getChars() === '' ? ' ' : c.getChars()}`;
  } else {
    out += `\x1b[${cy};${active.cursorX + 1}H`;
  }
  out += tracker.penSequence;
  if (!terminal.modes.wraparoundMode) out += '\x1b[?7l';
  if (terminal.modes.reverseWraparoundMode) out += '\x1b[?45h';
  if (terminal.modes.insertMode) out += '\x1b[4h';
  if (tracker.cursorHidden) out += '\x1b[?25l';
  if (tracker.lineDrawing) out += '\x1b(0';
  return out;
}

/** CUP to a 0-based position, clamped to the screen. */
function cup(y: number, x: number, cols: number): string {
  return `\x1b[${y + 1};${Math.min(x, cols - 1) + 1}H`;
}

/** DECSTBM for a region (it also homes the cursor), or nothing for the whole screen. */
function regionSequence(region: ScrollRegion | null): string {
  return region === null ? '' : `\x1b[${region.top};${region.bottom}r`;
}
