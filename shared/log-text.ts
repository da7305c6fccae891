/**
 * Log lines are one line each, whatever text from outside they quote (a device's rejection reason,
 * a close reason, a user name): control characters — line breaks, escape sequences, C1 controls,
 * Unicode line and paragraph separators — are written as visible escapes, so nobody can start a
 * forged line or rewrite a terminal's screen through the log. Browser-safe.
 */
// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with every control character escaped (`\n`, `\x1b`, `\u2028`, …); a backslash stays as it is. */
export function oneLine(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
