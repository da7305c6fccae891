/**
 * The Devices page's logic without React: its filters as they sit in the URL, which change
 * batches concern the page on screen, and the throttle that keeps its refetches to one a second.
 */
import type { DeviceEventBatch, DeviceEventsEnd } from '../../../shared/console-api';
import type { DeviceFilters } from '../api';

/** The filters from the page's query string (`?search=&online=online|offline&status=enabled|disabled`); unknown values are "any". */
export function readDeviceFilters(search: string): DeviceFilters {
  const q = new URLSearchParams(search);
  const online = q.get('online');
  const status = q.get('status');
  return {
    search: (q.get('search') ?? '').trim(),
    online: online === 'online' || online === 'offline' ? online : '',
    status: status === 'enabled' || status === 'disabled' ? status : '',
  };
}

/** The query string for these filters ('' when there are none). */
export function deviceFiltersQuery(f: DeviceFilters): string {
  const q = new URLSearchParams();
  if (f.search !== '') q.set('search', f.search);
  if (f.online !== '') q.set('online', f.online);
  if (f.status !== '') q.set('status', f.status);
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** What the page shows: enough to tell whether a change may alter it. */
export interface PageView {
  /** The search the page was read with. */
  search: string;
  /** The ids on the page, in order. */
  ids: readonly string[];
  /** The last id of the page before it (null on the first page): this page holds only ids after it. */
  afterId: string | null;
  /** Whether more pages follow: then this page holds no id after its last one. */
  hasNext: boolean;
}

/**
 * Whether a batch may change the page: it says many changed, names a device on the page, or names
 * one that may now belong on it (its id matches the search and falls in the page's span of ids; its
 * status or connection may have come to match the filters). Ids compare as the hub orders them,
 * by their characters' codes (device ids are ASCII).
 */
export function batchAffectsPage(batch: DeviceEventBatch, view: PageView | undefined): boolean {
  if ('many' in batch || view === undefined) return true;
  const shown = new Set(view.ids);
  const needle = view.search.toLowerCase();
  const last = view.ids.at(-1);
  return batch.deviceIds.some(
    (id) =>
      shown.has(id) ||
      (id.toLowerCase().includes(needle) && (view.afterId === null || id > view.afterId) && (!view.hasNext || last === undefined || id < last)),
  );
}

/** A `changed` event's data, or undefined when it is not one. */
export function parseDeviceEventBatch(data: string): DeviceEventBatch | undefined {
  try {
    const v = JSON.parse(data) as { many?: unknown; deviceIds?: unknown };
    if (v.many === true) return { many: true };
    if (Array.isArray(v.deviceIds) && v.deviceIds.every((id) => typeof id === 'string')) return { deviceIds: v.deviceIds };
  } catch {
    // not JSON
  }
  return undefined;
}

/** An `end` event's data, or undefined when it is not one. */
export function parseDeviceEventsEnd(data: string): DeviceEventsEnd | undefined {
  try {
    const v = JSON.parse(data) as { code?: unknown; message?: unknown };
    if (typeof v.code === 'number' && typeof v.message === 'string') return { code: v.code, message: v.message };
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * Runs `run` when asked, at most once per `intervalMs`: at once when the last run is long enough
 * ago, otherwise once at the end of the interval however often it was asked meanwhile.
 */
export class Throttle {
  readonly #intervalMs: number;
  readonly #run: () => void;
  #last = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(intervalMs: number, run: () => void) {
    this.#intervalMs = intervalMs;
    this.#run = run;
  }

  request(): void {
    if (this.#timer !== undefined) return;
    const wait = this.#last + this.#intervalMs - Date.now();
    if (wait <= 0) {
      this.#fire();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, wait);
  }

  #fire(): void {
    this.#last = Date.now();
    this.#run();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
