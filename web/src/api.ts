/**
 * The console's REST client: one fetch wrapper, the calls of shared/console-api.ts, and the
 * React Query keys and options built on them. Components never call fetch themselves.
 */
import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import type { ApiError as ApiErrorBody, ConsoleDevice, Me, StreamPage } from '../../shared/console-api';

/** A non-2xx answer from the BFF, carrying the server's sentence for the person at the screen. */
export class ApiError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The server's stable error code, or `http_<status>` when the body had none. */
    readonly code: string,
    message: string,
    /** Seconds from a `Retry-After` header (429), when present. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** True for an ApiError with this HTTP status. */
export function isApiError(err: unknown, status?: number): err is ApiError {
  return err instanceof ApiError && (status === undefined || err.status === status);
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (v === null || typeof v !== 'object' || !('error' in v)) return false;
  const e = v.error;
  return e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string';
}

function fallbackMessage(status: number): string {
  if (status === 401) return 'Your session has ended. Log in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many requests. Wait a moment and try again.';
  if (status >= 500) return 'The console server had a problem. Try again in a moment.';
  return `The request failed (HTTP ${status}).`;
}

/**
 * Fetches `/api{path}` with the session cookie and JSON; resolves with the parsed body (undefined
 * for 204) and throws an ApiError with the server's message for any non-2xx answer.
 */
export async function apiFetch<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method: init.method ?? 'GET',
      credentials: 'same-origin',
      headers,
      body: init.body === undefined ? null : JSON.stringify(init.body),
      signal: init.signal ?? null,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the console server. Check your connection.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON (a proxy's error page, say): fall through with the status alone
  }
  if (!res.ok) {
    const retryAfter = Number(res.headers.get('Retry-After'));
    const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : null;
    if (isErrorBody(body)) throw new ApiError(res.status, body.error.code, body.error.message, retryAfterSeconds);
    throw new ApiError(res.status, `http_${res.status}`, fallbackMessage(res.status), retryAfterSeconds);
  }
  return body as T;
}

/** Filters of the History page (and of `GET /api/streams`). Times are epoch milliseconds. */
export interface StreamFilters {
  deviceId?: string | undefined;
  result?: string | undefined;
  operator?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
}

/** Stream results the hub records (see ARCHITECTURE.md, the stream log). */
export const STREAM_RESULTS = [
  'accepted',
  'rejected',
  'deviceNotFound',
  'deviceOffline',
  'responseTimeout',
  'handshakeTimeout',
  'throttled',
  'hubRestart',
] as const;

/** Rows per History page. */
export const STREAM_PAGE_SIZE = 50;

function streamsPath(filters: StreamFilters, before: number | null): string {
  const q = new URLSearchParams();
  if (filters.deviceId) q.set('deviceId', filters.deviceId);
  if (filters.result) q.set('result', filters.result);
  if (filters.operator) q.set('operator', filters.operator);
  if (filters.since !== undefined) q.set('since', String(filters.since));
  if (filters.until !== undefined) q.set('until', String(filters.until));
  if (before !== null) q.set('before', String(before));
  q.set('limit', String(STREAM_PAGE_SIZE));
  return `/streams?${q.toString()}`;
}

/** The signed-in operator, or null when there is no session (401). */
export async function fetchMe(signal?: AbortSignal): Promise<Me | null> {
  try {
    return await apiFetch<Me>('/me', { signal });
  } catch (err) {
    if (isApiError(err, 401)) return null;
    throw err;
  }
}

/** Starts a session; throws ApiError 401 (bad credentials) or 429 (rate limited). */
export function login(username: string, password: string): Promise<Me> {
  return apiFetch<Me>('/login', { method: 'POST', body: { username, password } });
}

/** Ends the session (and its terminals). */
export function logout(): Promise<void> {
  return apiFetch<void>('/logout', { method: 'POST' });
}

/** Query keys, one factory so invalidation and reads agree. */
export const queryKeys = {
  me: () => ['me'] as const,
  devices: () => ['devices'] as const,
  streams: (filters: StreamFilters) => ['streams', filters] as const,
};

/** How often the device list refreshes, so a device that comes online shows without a reload. */
export const DEVICES_REFETCH_MS = 3000;

export const meQuery = () =>
  queryOptions({
    queryKey: queryKeys.me(),
    queryFn: ({ signal }) => fetchMe(signal),
    staleTime: 60_000,
  });

export const devicesQuery = () =>
  queryOptions({
    queryKey: queryKeys.devices(),
    queryFn: async ({ signal }) => (await apiFetch<{ devices: ConsoleDevice[] }>('/devices', { signal })).devices,
    refetchInterval: DEVICES_REFETCH_MS,
  });

export const streamsQuery = (filters: StreamFilters) =>
  infiniteQueryOptions({
    queryKey: queryKeys.streams(filters),
    queryFn: ({ signal, pageParam }) => apiFetch<StreamPage>(streamsPath(filters, pageParam), { signal }),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.nextBefore,
  });
