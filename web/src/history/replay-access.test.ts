import { describe, expect, it } from 'vitest';
import { mayReplay } from './replay-access';

describe('mayReplay', () => {
  it('lets admins and viewers replay any session, an operator only their own', () => {
    for (const operator of ['ada', 'bob', null]) {
      expect(mayReplay({ name: 'ada', role: 'admin' }, { operator })).toBe(true);
      expect(mayReplay({ name: 'ada', role: 'viewer' }, { operator })).toBe(true);
    }
    expect(mayReplay({ name: 'ada', role: 'operator' }, { operator: 'ada' })).toBe(true);
    expect(mayReplay({ name: 'ada', role: 'operator' }, { operator: 'bob' })).toBe(false);
    expect(mayReplay({ name: 'ada', role: 'operator' }, { operator: null })).toBe(false);
  });
});
