import { describe, expect, it } from 'vitest';
import { checkEnrollmentForm, formatCountdown, type EnrollmentFormValues } from './enrollment-form';

const form = (over: Partial<EnrollmentFormValues> = {}): EnrollmentFormValues => ({ target: 'pump-17', tags: '', shell: true, files: false, services: '', ttlSeconds: 3600, ...over });

describe('checkEnrollmentForm', () => {
  it('turns the form into the request: lines of tags and services, the checked kit services first', () => {
    expect(checkEnrollmentForm(form({ target: ' sensor-* ', tags: 'site=plant-2\n\n line=a ', files: true, services: 'ssh=127.0.0.1:22\nhttp=localhost:080' }))).toEqual({
      ok: true,
      spec: { target: 'sensor-*', tags: { site: 'plant-2', line: 'a' }, maps: ['shell', 'files', 'ssh=127.0.0.1:22', 'http=localhost:80'], ttlSeconds: 3600 },
    });
  });

  it.each([
    [{ target: '' }, 'target', /^Give the device id/],
    [{ target: 'a b' }, 'target', /^A device id has/],
    [{ target: '**' }, 'target', /at least one other character/],
    [{ tags: 'site' }, 'tags', /^Tag "site" must be KEY=VALUE/],
    [{ services: 'ssh=127.0.0.1' }, 'services', /^Service "ssh=127.0.0.1" needs HOST:PORT/],
    [{ services: 'shell' }, 'services', /^Service "shell" is given twice\.$/],
    [{ services: 'a=h:1\na=h:2' }, 'services', /^Service "a" is given twice\.$/],
  ])('names the field of %j', (over, field, message) => {
    const r = checkEnrollmentForm(form(over));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe(field);
      expect(r.message).toMatch(message);
    }
  });
});

describe('formatCountdown', () => {
  it.each([[0, '0:00'], [59, '0:59'], [3599, '59:59'], [3600, '1:00:00'], [86399, '23:59:59']])('%d s → %s', (s, text) => {
    expect(formatCountdown(s)).toBe(text);
  });
});
