import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppTokens, type AppGrant } from './app-tokens.js';

const GRANT: AppGrant = { operatorId: 'op-1', operator: 'olga', role: 'operator', sessionKey: 'session-hash', deviceId: 'pump', service: 'http' };

describe('app tokens', () => {
  const key = randomBytes(32);
  const tokens = new AppTokens(key);

  it('round-trips the grant, of its kind only, until it expires', () => {
    const now = Date.now();
    const t = tokens.sign('handoff', GRANT, now + 60_000);
    expect(tokens.verify(t, 'handoff', now)).toMatchObject({ ...GRANT, kind: 'handoff', exp: now + 60_000 });
    expect(tokens.verify(t, 'app', now)).toBeUndefined();
    expect(tokens.verify(t, 'handoff', now + 60_000)).toBeUndefined();
    expect(tokens.sign('handoff', GRANT, now + 1)).not.toBe(tokens.sign('handoff', GRANT, now + 1));
  });

  it('shows nothing of whom it names, and refuses any change, another key and junk', () => {
    const t = tokens.sign('app', GRANT, Date.now() + 60_000);
    const text = Buffer.from(t.split('.')[0] ?? '', 'base64url').toString('latin1');
    for (const v of Object.values(GRANT)) expect(text).not.toContain(v);
    const [payload, sig] = t.split('.') as [string, string];
    const flipped = `${payload.slice(0, 10)}${payload[10] === 'A' ? 'B' : 'A'}${payload.slice(11)}.${sig}`;
    expect(tokens.verify(flipped, 'app')).toBeUndefined();
    expect(tokens.verify(`${payload}.${sig.slice(0, -2)}`, 'app')).toBeUndefined();
    expect(new AppTokens(randomBytes(32)).verify(t, 'app')).toBeUndefined();
    for (const junk of ['', '.', 'a.b', `${'x'.repeat(3000)}.y`, undefined]) expect(tokens.verify(junk, 'app')).toBeUndefined();
    expect(() => new AppTokens(randomBytes(16))).toThrow(/32 bytes/);
  });
});
