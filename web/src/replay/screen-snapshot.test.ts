import type { IBufferCell, IBufferLine } from '@xterm/xterm';
import { describe, expect, it } from 'vitest';
import { cellSgr, csiParamsText, serializeLine, sgrResets } from './screen-snapshot';

// xterm's colour modes (CM_DEFAULT, CM_P16, CM_P256, CM_RGB).
const P16 = 0x1000000;
const P256 = 0x2000000;
const RGB = 0x3000000;

interface FakeCell {
  ch: string;
  width?: number;
  fgMode?: number;
  fg?: number;
  bgMode?: number;
  bg?: number;
  bold?: boolean;
  inverse?: boolean;
}

/** Just enough of IBufferCell for the serializer, backed by a plain object. */
function cellOf(f: FakeCell): IBufferCell {
  const fgMode = f.fgMode ?? 0;
  const bgMode = f.bgMode ?? 0;
  const n = (b: boolean | undefined) => (b === true ? 1 : 0);
  return {
    getWidth: () => f.width ?? 1,
    getChars: () => f.ch,
    getCode: () => f.ch.codePointAt(0) ?? 0,
    getFgColorMode: () => fgMode,
    getBgColorMode: () => bgMode,
    getFgColor: () => f.fg ?? 0,
    getBgColor: () => f.bg ?? 0,
    isBold: () => n(f.bold),
    isItalic: () => 0,
    isDim: () => 0,
    isUnderline: () => 0,
    isBlink: () => 0,
    isInverse: () => n(f.inverse),
    isInvisible: () => 0,
    isStrikethrough: () => 0,
    isOverline: () => 0,
    isFgRGB: () => fgMode === RGB,
    isBgRGB: () => bgMode === RGB,
    isFgPalette: () => fgMode === P16 || fgMode === P256,
    isBgPalette: () => bgMode === P16 || bgMode === P256,
    isFgDefault: () => fgMode === 0,
    isBgDefault: () => bgMode === 0,
    isAttributeDefault: () => fgMode === 0 && bgMode === 0 && f.bold !== true && f.inverse !== true,
  };
}

function lineOf(cells: FakeCell[], cols: number): IBufferLine {
  const all = [...cells];
  while (all.length < cols) all.push({ ch: '' });
  return {
    isWrapped: false,
    length: cols,
    getCell: (x: number) => (all[x] === undefined ? undefined : cellOf(all[x])),
    translateToString: () => all.map((c) => c.ch || ' ').join(''),
  };
}

const scratch = cellOf({ ch: '' });
const text = (s: string, extra: Partial<FakeCell> = {}): FakeCell[] => Array.from(s, (ch) => ({ ch, ...extra }));

describe('SGR helpers', () => {
  it('writes parameter lists back as text', () => {
    expect(csiParamsText([1, 31])).toBe('1;31');
    expect(csiParamsText([[38, 2, -1, 255, 0, 0]])).toBe('38:2::255:0:0');
    expect(csiParamsText([])).toBe('');
  });

  it('finds resets, but not a colour number 0', () => {
    expect(sgrResets([])).toBe(true);
    expect(sgrResets([0])).toBe(true);
    expect(sgrResets([1, 0, 31])).toBe(true);
    expect(sgrResets([1, 31])).toBe(false);
    expect(sgrResets([38, 5, 0])).toBe(false);
    expect(sgrResets([48, 2, 0, 0, 0, 1])).toBe(false);
    expect(sgrResets([38, 5, 0, 0])).toBe(true);
    expect(sgrResets([[38, 5, 0]])).toBe(false);
  });

  it('turns a cell’s attributes into one SGR sequence', () => {
    expect(cellSgr(cellOf({ ch: 'a' }))).toBe('\x1b[0m');
    expect(cellSgr(cellOf({ ch: 'a', fgMode: P16, fg: 1, bold: true }))).toBe('\x1b[0;1;31m');
    expect(cellSgr(cellOf({ ch: 'a', fgMode: P16, fg: 9, bgMode: P16, bg: 12 }))).toBe('\x1b[0;91;104m');
    expect(cellSgr(cellOf({ ch: 'a', fgMode: P256, fg: 208, bgMode: RGB, bg: 0x102030, inverse: true }))).toBe('\x1b[0;7;38;5;208;48;2;16;32;48m');
  });
});

describe('serializeLine', () => {
  it('writes text and trims blank cells at the end', () => {
    expect(serializeLine(lineOf(text('hi  there'), 20), 20, scratch)).toEqual({ text: 'hi  there', reachesEnd: false });
    // Spaces that were written are kept (they are copied with a selection).
    expect(serializeLine(lineOf(text('hi '), 20), 20, scratch)).toEqual({ text: 'hi ', reachesEnd: false });
    expect(serializeLine(lineOf([], 20), 20, scratch)).toEqual({ text: '', reachesEnd: false });
  });

  it('keeps a coloured background at the end, and changes attributes only where they change', () => {
    const cells = [...text('ab', { fgMode: P16, fg: 2 }), ...text('c'), ...text('  ', { bgMode: P16, bg: 4 })];
    expect(serializeLine(lineOf(cells, 10), 10, scratch).text).toBe('\x1b[0;32mab\x1b[0mc\x1b[0;44m  ');
  });

  it('writes wide characters once and reports a full line', () => {
    const cells: FakeCell[] = [{ ch: '日', width: 2 }, { ch: '', width: 0 }, { ch: '本', width: 2 }, { ch: '', width: 0 }];
    expect(serializeLine(lineOf(cells, 4), 4, scratch)).toEqual({ text: '日本', reachesEnd: true });
  });

  it('reports a line that reaches the last column', () => {
    expect(serializeLine(lineOf(text('abcdef'), 6), 6, scratch)).toEqual({ text: 'abcdef', reachesEnd: true });
  });
});
