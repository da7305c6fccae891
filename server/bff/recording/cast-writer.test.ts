import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSink } from '../../store/sqlite/recording-files.js';
import { CastWriter, TRUNCATION_MARKER } from './cast-writer.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cast-'));
  dirs.push(d);
  return join(d, 'sub', 'x.cast');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function read(path: string): { header: Record<string, unknown>; events: Array<[number, string, string]> } {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  return { header: JSON.parse(lines[0] ?? '{}') as Record<string, unknown>, events: lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]) };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('CastWriter', () => {
  it('writes an asciicast v2 header and timed events', async () => {
    const path = tmp();
    const w = new CastWriter(new FileSink(path), { cols: 100, rows: 30, timestamp: 1700000000, title: 'ops@dev', term: 'xterm-256color' }, 1 << 20, 1000);
    w.output(enc('hello\r\n'), 1500);
    w.resize(120, 40, 2000);
    w.marker('exit 3', 2500);
    await w.close();
    const { header, events } = read(path);
    expect(header).toMatchObject({ version: 2, width: 100, height: 30, timestamp: 1700000000, title: 'ops@dev' });
    expect(events).toEqual([[0.5, 'o', 'hello\r\n'], [1, 'r', '120x40'], [1.5, 'm', 'exit 3']]);
  });

  it('keeps escape sequences and control bytes exactly (JSON-escaped)', async () => {
    const path = tmp();
    const w = new CastWriter(new FileSink(path), { cols: 80, rows: 24, timestamp: 0, title: 't', term: 'xterm' }, 1 << 20, 0);
    const text = '\x1b[1;31mred\x1b[0m\x07\x00\t"quoted"\\ \x1b]0;title\x07';
    w.output(enc(text), 10);
    await w.close();
    expect(read(path).events[0]?.[2]).toBe(text);
  });

  it('joins a UTF-8 character split across frames', async () => {
    const path = tmp();
    const w = new CastWriter(new FileSink(path), { cols: 80, rows: 24, timestamp: 0, title: 't', term: 'xterm' }, 1 << 20, 0);
    const bytes = enc('añ€😀z');
    // Split inside ñ (2 bytes), € (3 bytes) and 😀 (4 bytes).
    for (const [a, b] of [[0, 2], [2, 5], [5, 9], [9, bytes.length]] as const) w.output(bytes.subarray(a, b), 1);
    await w.close();
    expect(read(path).events.map((e) => e[2]).join('')).toBe('añ€😀z');
    expect(readFileSync(path, 'utf8')).not.toContain('\uFFFD');
  });

  it('stops at the size budget with a truncation marker', async () => {
    const path = tmp();
    const w = new CastWriter(new FileSink(path), { cols: 80, rows: 24, timestamp: 0, title: 't', term: 'xterm' }, 4096, 0);
    for (let i = 0; i < 200; i++) w.output(enc(`line ${i} ${'x'.repeat(40)}\r\n`), i);
    await w.close();
    const { events } = read(path);
    expect(w.truncated).toBe(true);
    expect(events.at(-1)).toEqual([expect.any(Number), 'm', TRUNCATION_MARKER]);
    expect(readFileSync(path).length).toBeLessThan(4096 + 200);
  });

  it('records input only through input()', async () => {
    const path = tmp();
    const w = new CastWriter(new FileSink(path), { cols: 80, rows: 24, timestamp: 0, title: 't', term: 'xterm' }, 1 << 20, 0);
    w.input(enc('ls\r'), 5);
    await w.close();
    expect(read(path).events).toEqual([[0.005, 'i', 'ls\r']]);
  });
});
