import { describe, expect, it } from 'vitest';
import { passwordFormProblem } from './change-password-checks';

describe('passwordFormProblem', () => {
  it('names the first thing wrong and its field, in the order the form is filled', () => {
    expect(passwordFormProblem('', 'abc', 'abd')?.field).toBe('current');
    expect(passwordFormProblem('old-password', 'abc', 'abd')).toEqual({ field: 'next', message: 'The new password must be at least 8 characters.' });
    expect(passwordFormProblem('old-password', 'x'.repeat(257), 'x'.repeat(257))?.message).toBe('The new password must be at most 256 characters.');
    expect(passwordFormProblem('old-password', 'new-password', 'new-passwort')?.field).toBe('again');
    expect(passwordFormProblem('old-password', 'old-password', 'old-password')?.message).toMatch(/same as your current one/);
  });

  it('accepts a new password of 8 to 256 characters typed twice that differs from the current one', () => {
    expect(passwordFormProblem('old-password', '12345678', '12345678')).toBeNull();
    expect(passwordFormProblem('old-password', 'x'.repeat(256), 'x'.repeat(256))).toBeNull();
  });
});
