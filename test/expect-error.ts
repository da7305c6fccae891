/** Assertion helpers for code that must fail with a typed error. */
import { expect } from 'vitest';
import { DsError } from '../shared/errors.js';

/** The value `fn` throws; fails the test when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

/** `fn` throws a DsError with `code`, an HTTP status of 401 and, if given, a matching message. */
export function expectDsError(fn: () => unknown, code: number, message?: RegExp): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(DsError);
  expect((e as DsError).code).toBe(code);
  expect((e as DsError).status).toBe(401);
  if (message) expect((e as DsError).message).toMatch(message);
}
