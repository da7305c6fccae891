import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import { AsciicastError, parseAsciicast } from './asciicast';
import { describePlayError } from './play-error';

function parseError(text: string): unknown {
  try {
    parseAsciicast(text);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('describePlayError', () => {
  it('names the corrupt line', () => {
    const lines = ['{"version":2,"width":80,"height":24}', ...Array.from({ length: 55 }, () => '[0, "o", "x"]'), 'garbage'];
    expect(describePlayError(parseError(lines.join('\n') + '\n'))).toBe('This recording cannot be played: line 57 is not valid asciicast (not a JSON array).');
  });

  it('explains a file that is not asciicast v2', () => {
    expect(describePlayError(parseError('{"version": 1}\n'))).toBe('This recording cannot be played: header is not asciicast v2 (version 1).');
    expect(describePlayError(new AsciicastError('empty', null, 'the file is empty (no asciicast header)'))).toBe(
      'This recording cannot be played: the file is empty (no asciicast header).',
    );
  });

  it('explains 404 and 403', () => {
    expect(describePlayError(new ApiError(404, 'not_found', 'Not found.'))).toBe('This recording no longer exists (deleted or past retention).');
    expect(describePlayError(new ApiError(403, 'forbidden', "Your role may not replay other operators' sessions."))).toBe(
      "Your role may not replay other operators' sessions.",
    );
    expect(describePlayError(new ApiError(403, 'http_403', 'You are not allowed to do that.'))).toMatch(/^Your role may not /);
    expect(describePlayError(new ApiError(0, 'network', 'Cannot reach the console server.'))).toBe('The recording could not be loaded: Cannot reach the console server.');
  });
});
