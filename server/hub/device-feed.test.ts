import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeviceFeed, type FeedBatch } from './device-feed.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('DeviceFeed', () => {
  it('gathers the changes of one beat into one batch, each id once, and sends nothing while nobody listens', () => {
    vi.useFakeTimers();
    const feed = new DeviceFeed();
    feed.changed('before-anyone-listened');
    const got: FeedBatch[] = [];
    feed.subscribe((b) => got.push(b));
    feed.changed('a');
    feed.changed('b');
    feed.received('a');
    vi.advanceTimersByTime(249);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(got).toEqual([{ deviceIds: ['a', 'b'] }]);
    vi.advanceTimersByTime(10_000);
    expect(got).toHaveLength(1);
  });

  it('says "many" instead of naming more than 500 devices in one beat, then names again', () => {
    vi.useFakeTimers();
    const feed = new DeviceFeed();
    const got: FeedBatch[] = [];
    feed.subscribe((b) => got.push(b));
    for (let i = 0; i < 501; i++) feed.changed(`d${i}`);
    vi.advanceTimersByTime(250);
    feed.changed('x');
    vi.advanceTimersByTime(250);
    expect(got).toEqual([{ many: true }, { deviceIds: ['x'] }]);
  });

  it('forwards its own changes to the cluster but not those it received from it', () => {
    const feed = new DeviceFeed();
    const forwarded: string[] = [];
    feed.forward = (id) => forwarded.push(id);
    feed.changed('mine');
    feed.received('theirs');
    expect(forwarded).toEqual(['mine']);
    feed.close();
  });

  it('refuses subscribers past its bound', () => {
    const feed = new DeviceFeed();
    for (let i = 0; i < 1000; i++) expect(feed.subscribe(() => undefined)).toBeDefined();
    expect(feed.subscribe(() => undefined)).toBeUndefined();
    expect(feed.subscribers).toBe(1000);
  });
});
