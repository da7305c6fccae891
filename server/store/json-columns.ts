/**
 * Columns both engines keep as JSON text (tags, an enrollment token's services). Read defensively:
 * a value that is not what was written reads as empty rather than failing every query on its row.
 */
import type { TransferLabel } from '../../shared/transfer.js';

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

/** A device's services column (`["http","shell"]`) → names; NULL (never said) → null. */
export function parseServices(text: string | null): string[] | null {
  return text === null ? null : parseStrings(text);
}

/** A stream's transfer column (`{"direction":…,"name":…}`) → its label; anything else → null. */
export function parseTransfer(text: string | null): TransferLabel | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as { direction?: unknown; name?: unknown } | null;
    if (v === null || typeof v !== 'object' || (v.direction !== 'upload' && v.direction !== 'download') || typeof v.name !== 'string') return null;
    return { direction: v.direction, name: v.name };
  } catch {
    return null;
  }
}

/** A transfer label as its column keeps it. */
export function transferColumn(t: TransferLabel | null | undefined): string | null {
  return t === null || t === undefined ? null : JSON.stringify({ direction: t.direction, name: t.name });
}
