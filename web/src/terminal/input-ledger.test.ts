import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputLedger } from './input-ledger';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join('');

describe('InputLedger', () => {
  it('queues keystrokes until a connection takes input, then sends them in order', () => {
    const l = new InputLedger();
    expect(l.type(bytes('ab'))).toEqual({ send: null, refused: 0 });
    expect(l.type(bytes('c'))).toEqual({ send: null, refused: 0 });
    const opened = l.open();
    expect(text(opened.send)).toBe('abc');
    expect(opened.lost).toBe(0);
    expect(l.type(bytes('d')).send).toEqual(bytes('d'));
    expect(l.sent).toBe(4);
  });

  it('after a drop sends again exactly what the server did not get, then what was typed meanwhile', () => {
    const l = new InputLedger();
    l.open();
    for (const k of ['echo ', 'one', '\r']) l.type(bytes(k));
    l.close();
    l.type(bytes('two\r'));
    // The server got "echo on": the rest of "one", the CR and the queue go out.
    const opened = l.open(7);
    expect(text(opened.send)).toBe('e\rtwo\r');
    expect(opened.lost).toBe(0);
    expect(l.sent).toBe(13);
    // Everything arrived this time: nothing is sent twice.
    l.close();
    expect(l.open(13).send).toEqual([]);
  });

  it('a fresh page (a reload) adopts the server count and sends only what it typed itself', () => {
    const l = new InputLedger();
    l.type(bytes('ls\r'));
    const opened = l.open(500);
    expect(text(opened.send)).toBe('ls\r');
    expect(l.sent).toBe(503);
  });

  it('refuses keystrokes past the queue limit and reports input it can no longer resend', () => {
    const l = new InputLedger(10);
    expect(l.type(bytes('0123456789')).refused).toBe(0);
    expect(l.type(bytes('x'))).toEqual({ send: null, refused: 1 });
    l.open();
    l.type(bytes('abcdefghij'));
    l.type(bytes('klmno'));
    l.close();
    // Kept: at least the last 10 bytes; the server got only 3.
    const opened = l.open(3);
    expect(opened.lost).toBeGreaterThan(0);
    expect(text(opened.send).endsWith('klmno')).toBe(true);
    expect(opened.lost + text(opened.send).length).toBe(25 - 3);
  });

  it('any typing, drops and server counts: the shell gets a prefix of what was typed, each byte once, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 8 }).map((s) => ({ type: s })), fc.nat(100).map((n) => ({ drop: n }))), { maxLength: 40 }),
        (steps) => {
          const l = new InputLedger(1 << 20);
          let shell = '';
          let inFlight = '';
          let typed = '';
          l.open();
          for (const step of steps) {
            if ('type' in step) {
              typed += step.type;
              const r = l.type(bytes(step.type));
              if (r.send !== null) inFlight += new TextDecoder().decode(r.send);
            } else {
              // The connection drops after the server read some of what was in flight.
              const got = Math.min(step.drop, inFlight.length);
              shell += inFlight.slice(0, got);
              l.close();
              const opened = l.open(new TextEncoder().encode(shell).length);
              expect(opened.lost).toBe(0);
              inFlight = text(opened.send);
            }
          }
          shell += inFlight;
          expect(shell).toBe(typed);
        },
      ),
      { numRuns: 300 },
    );
  });
});
