import { afterEach, describe, expect, it, vi } from 'vitest';
import { Throttle, batchAffectsPage, deviceFiltersQuery, parseDeviceEventBatch, readDeviceFilters, type PageView } from './device-list';

afterEach(() => {
  vi.useRealTimers();
});

describe('device filters in the URL', () => {
  it('reads search, online and status, ignores values it does not know, and writes them back', () => {
    expect(readDeviceFilters('?search=%20pump-1%20&online=online&status=disabled')).toEqual({ search: 'pump-1', online: 'online', status: 'disabled' });
    expect(readDeviceFilters('?online=yes&status=on&other=1')).toEqual({ search: '', online: '', status: '' });
    expect(deviceFiltersQuery({ search: 'a b', online: 'offline', status: '' })).toBe('?search=a+b&online=offline');
    expect(deviceFiltersQuery({ search: '', online: '', status: '' })).toBe('');
  });
});

describe('batchAffectsPage', () => {
  const page: PageView = { search: '', ids: ['dev-10', 'dev-11', 'dev-12'], afterId: 'dev-09', hasNext: true };

  it('is true for "many" and for a device on the page', () => {
    expect(batchAffectsPage({ many: true }, page)).toBe(true);
    expect(batchAffectsPage({ deviceIds: ['zzz', 'dev-11'] }, page)).toBe(true);
  });

  it('is true for a device that would sort into the page, false for one before or after it', () => {
    expect(batchAffectsPage({ deviceIds: ['dev-105'] }, page)).toBe(true);
    expect(batchAffectsPage({ deviceIds: ['dev-05'] }, page)).toBe(false);
    expect(batchAffectsPage({ deviceIds: ['dev-09'] }, page)).toBe(false);
    expect(batchAffectsPage({ deviceIds: ['dev-13', 'dev-99'] }, page)).toBe(false);
  });

  it('on the last page, any later id may join it; on the first, any earlier one', () => {
    expect(batchAffectsPage({ deviceIds: ['dev-99'] }, { ...page, hasNext: false })).toBe(true);
    expect(batchAffectsPage({ deviceIds: ['a'] }, { ...page, afterId: null })).toBe(true);
    expect(batchAffectsPage({ deviceIds: ['anything'] }, { search: '', ids: [], afterId: null, hasNext: false })).toBe(true);
  });

  it('is false for a device the search does not match, whatever its place, matching any case', () => {
    const searched: PageView = { search: 'PUMP', ids: ['pump-1'], afterId: null, hasNext: false };
    expect(batchAffectsPage({ deviceIds: ['valve-2'] }, searched)).toBe(false);
    expect(batchAffectsPage({ deviceIds: ['Pump-2'] }, searched)).toBe(true);
  });

  it('is true while nothing is shown yet', () => {
    expect(batchAffectsPage({ deviceIds: ['x'] }, undefined)).toBe(true);
  });
});

describe('parseDeviceEventBatch', () => {
  it('reads the two shapes and nothing else', () => {
    expect(parseDeviceEventBatch('{"deviceIds":["a","b"]}')).toEqual({ deviceIds: ['a', 'b'] });
    expect(parseDeviceEventBatch('{"many":true}')).toEqual({ many: true });
    for (const bad of ['', 'nope', '{"deviceIds":[1]}', '{"many":1}', 'null', '[]']) expect(parseDeviceEventBatch(bad), bad).toBeUndefined();
  });
});

describe('Throttle', () => {
  it('runs at once, then at most once per interval however often it is asked, at the end of the interval', () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const t = new Throttle(1000, run);
    t.request();
    expect(run).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) t.request();
    vi.advanceTimersByTime(999);
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(run).toHaveBeenCalledTimes(2);
    t.request();
    expect(run).toHaveBeenCalledTimes(3);
    t.request();
    t.dispose();
    vi.advanceTimersByTime(5000);
    expect(run).toHaveBeenCalledTimes(3);
  });
});
