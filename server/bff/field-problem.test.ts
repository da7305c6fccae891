import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldProblem } from './field-problem.js';

const schema = z.object({
  name: z.string().min(1).max(64).regex(/^[a-z]+$/, 'use letters a to z'),
  password: z.string().min(8).max(256),
  role: z.enum(['admin', 'operator']),
  tags: z.array(z.string()).max(2).optional(),
}).strict();

const problem = (body: unknown): string => {
  const r = schema.safeParse(body);
  if (r.success) throw new Error('expected a problem');
  return fieldProblem(r.error);
};

describe('fieldProblem', () => {
  it.each([
    ['a name past its maximum', { name: 'a'.repeat(200), password: 'x'.repeat(8), role: 'admin' }, 'name: at most 64 characters.'],
    ['an empty name', { name: '', password: 'x'.repeat(8), role: 'admin' }, 'name: must not be empty.'],
    ['a short password', { name: 'abc', password: 'short', role: 'admin' }, 'password: at least 8 characters.'],
    ['a missing field', { name: 'abc', role: 'admin' }, 'password: missing.'],
    ['a field of the wrong type', { name: 'abc', password: 12345678, role: 'admin' }, 'password: must be a string.'],
    ['a value not in the list', { name: 'abc', password: 'x'.repeat(8), role: 'root' }, 'role: must be one of "admin", "operator".'],
    ['too many entries', { name: 'abc', password: 'x'.repeat(8), role: 'admin', tags: ['a', 'b', 'c'] }, 'tags: at most 2 entries.'],
    ['an unknown field', { name: 'abc', password: 'x'.repeat(8), role: 'admin', extra: 1 }, 'The request body: unknown field "extra".'],
    ["the schema's own message for a pattern", { name: 'ABC', password: 'x'.repeat(8), role: 'admin' }, 'name: use letters a to z.'],
  ])('says %s in plain words', (_what, body, said) => {
    expect(problem(body)).toBe(said);
  });
});
