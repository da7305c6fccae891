import { describe, expect, it } from 'vitest';
import type { Role } from '../../shared/console-api.js';
import { AppAccess } from './app-access.js';
import type { AppGrant } from './app-tokens.js';

const GRANT: AppGrant = { operatorId: 'op-1', operator: 'olga', role: 'operator', sessionKey: 's-1', deviceId: 'pump', service: 'http' };

describe('app access', () => {
  it('stands while the session lives and the role is the one it was issued under, re-checked after 2 s', async () => {
    let live = true;
    let role: Role | undefined = 'operator';
    let lookups = 0;
    const access = new AppAccess({
      sessionLive: () => { lookups++; return Promise.resolve(live); },
      roleOf: () => Promise.resolve(role),
    });
    const t = 1_000_000;
    expect(await access.check(GRANT, t)).toBe('ok');
    live = false;
    expect(await access.check(GRANT, t + 1999)).toBe('ok');
    expect(lookups).toBe(1);
    expect(await access.check(GRANT, t + 2000)).toBe('sessionEnded');
    live = true;
    role = 'admin';
    expect(await access.check(GRANT, t + 4000)).toBe('roleChanged');
    role = undefined;
    expect(await access.check(GRANT, t + 6000)).toBe('roleChanged');
  });

  it('never lets a viewer in, whatever its token says', async () => {
    const access = new AppAccess({ sessionLive: () => Promise.resolve(true), roleOf: () => Promise.resolve('viewer') });
    expect(await access.check({ ...GRANT, role: 'viewer' })).toBe('roleChanged');
  });
});
