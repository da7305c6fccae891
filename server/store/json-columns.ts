/**
 * Columns both engines keep as JSON text (tags, an enrollment token's services). Read defensively:
 * a value that is not what was written reads as empty rather than failing every query on its row.
 */

/** `{"k":"v"}` → tags; anything else → {}. */
export function parseTags(text: string | null): Record<string, string> {
  try {
    const v = JSON.parse(text ?? '{}') as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** `["a","b"]` → strings; anything else → []. */
export function parseStrings(text: string | null): string[] {
  try {
    const v = JSON.parse(text ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
