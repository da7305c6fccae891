import { describe, expect, it } from 'vitest';
import { deviceFileUrl, downloadName } from './console-files.js';

describe('console file URLs and download names', () => {
  it('encodes the device id and the path, and adds the session only when given', () => {
    expect(deviceFileUrl('pump 17', 'a/b c&d.txt')).toBe('/api/devices/pump%2017/files?path=a%2Fb+c%26d.txt');
    expect(deviceFileUrl('p', 'x', '0123456789abcdef0123456789abcdef')).toBe('/api/devices/p/files?path=x&session=0123456789abcdef0123456789abcdef');
  });

  it('names a download by the path\'s last part, without quotes, separators, control characters or leading dots', () => {
    expect(downloadName('logs/app.log')).toBe('app.log');
    expect(downloadName('a/"evil"\r\n.txt')).toBe('_evil___.txt');
    expect(downloadName('dir/..')).toBe('dir');
    expect(downloadName('../.hidden')).toBe('hidden');
    expect(downloadName('/')).toBe('download');
    expect(downloadName('a\\b:c*?.bin')).toBe('a_b_c__.bin');
  });
});
