import { describe, expect, it } from 'vitest';
import { nameProblem, passwordProblem } from './account-rules';

describe('account rules', () => {
  it('takes a name of 1 to 64 letters, digits and . _ @ -, as the server does', () => {
    expect(nameProblem('ops.night_2@site-a')).toBeNull();
    expect(nameProblem('n'.repeat(64))).toBeNull();
    expect(nameProblem('')).toBe('Type a name for the account.');
    expect(nameProblem('n'.repeat(65))).toBe('The name is 65 characters long; it may have at most 64.');
    expect(nameProblem('night shift')).toMatch(/may not have/);
    expect(nameProblem('zoë')).toMatch(/may not have/);
  });

  it('takes a password of 8 to 256 characters', () => {
    expect(passwordProblem('1234567', 'The password')).toBe('The password must be at least 8 characters.');
    expect(passwordProblem('12345678', 'The password')).toBeNull();
    expect(passwordProblem('x'.repeat(256), 'The password')).toBeNull();
    expect(passwordProblem('x'.repeat(257), 'The password')).toBe('The password must be at most 256 characters.');
  });
});
