/**
 * A request body's first validation problem as the console says it: the field, then what is wrong
 * in plain words ("name: at most 64 characters"), not zod's own phrasing ("Too big: expected string
 * to have <=64 characters"). A message the schema gives itself (a pattern's "use letters, digits …")
 * is kept.
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

function what(issue: Issue): string {
  switch (issue.code) {
    case 'too_big':
      if (issue.origin === 'string') return `at most ${String(issue.maximum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `at most ${String(issue.maximum)} entries`;
      return `at most ${String(issue.maximum)}`;
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'must not be empty' : `at least ${String(issue.minimum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `at least ${String(issue.minimum)} entries`;
      return `at least ${String(issue.minimum)}`;
    case 'invalid_type':
      // zod leaves the input out of the issue unless asked: its message says what it received.
      return /received undefined/.test(issue.message) ? 'missing' : `must be a ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return issue.message;
  }
}

/** "Field: problem." for the first issue (the body as a whole when it has no path). */
export function fieldProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'The request body is not valid.';
  const field = issue.path.map(String).join('.');
  const text = what(issue);
  const sentence = field === '' ? `The request body: ${text}` : `${field}: ${text}`;
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
