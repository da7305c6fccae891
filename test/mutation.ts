/**
 * Mutation helpers for property tests of decoders: take a valid encoding and apply random edits
 * (insert, delete, replace, duplicate, truncate) drawn from an alphabet that suits the format.
 */
import fc from 'fast-check';

/** A lone UTF-16 surrogate: text no encoder produces, which decoders must still survive. */
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

export type Edit = { kind: 'insert' | 'delete' | 'replace' | 'duplicate' | 'truncate'; pos: number; text: string };

/** Random edits whose text is drawn from `alphabet`. */
export function editArbitrary(alphabet: fc.Arbitrary<string>): fc.Arbitrary<Edit> {
  return fc.record({
    kind: fc.constantFrom('insert', 'delete', 'replace', 'duplicate', 'truncate'),
    pos: fc.nat(),
    text: fc.string({ unit: alphabet, minLength: 1, maxLength: 4 }),
  });
}

export function applyEdits(input: string, edits: Edit[]): string {
  let s = input;
  for (const e of edits) {
    const p = e.pos % (s.length + 1);
    if (e.kind === 'insert') s = s.slice(0, p) + e.text + s.slice(p);
    else if (e.kind === 'delete') s = s.slice(0, p) + s.slice(p + e.text.length);
    else if (e.kind === 'replace') s = s.slice(0, p) + e.text + s.slice(p + e.text.length);
    else if (e.kind === 'duplicate') s = s.slice(0, p) + s.slice(p, p + 8) + s.slice(p);
    else s = s.slice(0, p);
  }
  return s;
}
