/** The browser tests' leak finder (e2e/fixtures/secrets.ts) finds stream tokens, and only them. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findLeaks } from '../e2e/fixtures/secrets.js';
import { signStreamToken } from '../shared/stream-token.js';

describe('findLeaks', () => {
  const token = signStreamToken(randomBytes(32), { sid: 'sid-1', side: 'service', dev: 'dev-1', exp: Math.floor(Date.now() / 1000) + 60, gw: 'local' });

  it('finds a stream token in JSON, in a URL and on its own', () => {
    for (const text of [JSON.stringify({ url: 'wss://h/s', token }), `wss://h/streams/x?token=${token}`, token]) {
      expect(findLeaks(text, []).map((l) => l.split(' at ')[0])).toEqual(['a JWT (stream token)']);
    }
  });

  it('does not take random base64url text with "eyJ" inside it for a token', () => {
    const id = 'TOcvHN90ywCDQA8nN2ymTH1uNIrwBfeyJfNkdPL1pp6Ibn1vMchSWz4QlPTHBShTE-aqDx';
    expect(findLeaks(JSON.stringify({ handoff: id }), [])).toEqual([]);
  });
});
