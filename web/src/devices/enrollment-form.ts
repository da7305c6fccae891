/**
 * The "Add device" form's values → the request for an enrollment token, checked here with the same
 * rules as the server (shared/enrollment.ts), so a mistake is named at its field before any request.
 */
import { isPattern, parseMap, parseTag, serviceName } from '../../../shared/enrollment';
import { DEVICE_ID_PATTERN } from '../../../shared/limits';

export interface EnrollmentFormValues {
  target: string;
  /** One KEY=VALUE a line. */
  tags: string;
  shell: boolean;
  files: boolean;
  /** One NAME=HOST:PORT a line. */
  services: string;
  ttlSeconds: number;
}

export type EnrollmentFormField = 'target' | 'tags' | 'services';

export type CheckedForm =
  | { ok: true; spec: { target: string; tags: Record<string, string>; maps: string[]; ttlSeconds: number } }
  | { ok: false; field: EnrollmentFormField; message: string };

/** How long a token may be asked for, in the form's select. */
export const TTL_CHOICES: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 15 * 60, label: '15 minutes' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 4 * 3600, label: '4 hours' },
  { seconds: 24 * 3600, label: '24 hours' },
];

const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');

function sentence(text: string): string {
  const t = text.charAt(0).toUpperCase() + text.slice(1);
  return t.endsWith('.') ? t : `${t}.`;
}

export function checkEnrollmentForm(v: EnrollmentFormValues): CheckedForm {
  const target = v.target.trim();
  if (target === '') return { ok: false, field: 'target', message: 'Give the device id, or a pattern such as sensor-*.' };
  if (!DEVICE_ID_PATTERN.test(target) || (isPattern(target) && target.replace(/\*/g, '') === '')) {
    return { ok: false, field: 'target', message: "A device id has 1-128 letters, digits and - . % _ ? ! ( ) , : = @ $ ' (and * in a pattern, with at least one other character)." };
  }
  const tags: Record<string, string> = {};
  for (const line of lines(v.tags)) {
    const r = parseTag(line);
    if (!r.ok) return { ok: false, field: 'tags', message: sentence(r.error) };
    tags[r.value[0]] = r.value[1];
  }
  const maps: string[] = [...(v.shell ? ['shell'] : []), ...(v.files ? ['files'] : [])];
  for (const line of lines(v.services)) {
    const r = parseMap(line);
    if (!r.ok) return { ok: false, field: 'services', message: sentence(r.error) };
    if (maps.some((m) => serviceName(m) === serviceName(r.value))) return { ok: false, field: 'services', message: `Service "${serviceName(r.value)}" is given twice.` };
    maps.push(r.value);
  }
  return { ok: true, spec: { target, tags, maps, ttlSeconds: v.ttlSeconds } };
}

/** Seconds as 59:58 or 1:00:00, for the token's countdown. */
export function formatCountdown(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}
