/**
 * The console's REST client: one fetch wrapper, the calls of shared/console-api.ts, and the
 * React Query keys and options built on them. Components never call fetch themselves.
 */
import { infiniteQueryOptions, keepPreviousData, queryOptions } from '@tanstack/react-query';
import type { ApiError as ApiErrorBody, ConsoleEnrollmentToken, ConsoleSettings, DevicePage, DeviceSummary, Me, RecordingInfo, Role, StreamPage, TerminalSessionList } from '../../shared/console-api';

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

/** True for an ApiError with this HTTP status (and this code, when given). */
export function isApiError(err: unknown, status?: number, code?: string): err is ApiError {
  return err instanceof ApiError && (status === undefined || err.status === status) && (code === undefined || err.code === code);
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
  if (!res.ok) throw errorOf(res, body);
  return body as T;
}

/** The ApiError for a non-2xx answer, from its parsed body (when it has the usual shape). */
function errorOf(res: Response, body: unknown): ApiError {
  const retryAfter = Number(res.headers.get('Retry-After'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : null;
  if (isErrorBody(body)) return new ApiError(res.status, body.error.code, body.error.message, retryAfterSeconds);
  return new ApiError(res.status, `http_${res.status}`, fallbackMessage(res.status), retryAfterSeconds);
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
export { STREAM_RESULTS } from '../../shared/stream-results';

/** Rows per History page. */
export const STREAM_PAGE_SIZE = 50;

/** Where the History page is in the log: after the row at this time and with this id (keyset paging). */
export interface StreamCursor {
  before: number;
  beforeId: string | null;
}

function streamsPath(filters: StreamFilters, cursor: StreamCursor | null): string {
  const q = new URLSearchParams();
  if (filters.deviceId) q.set('deviceId', filters.deviceId);
  if (filters.result) q.set('result', filters.result);
  if (filters.operator) q.set('operator', filters.operator);
  if (filters.since !== undefined) q.set('since', String(filters.since));
  if (filters.until !== undefined) q.set('until', String(filters.until));
  if (cursor !== null) q.set('before', String(cursor.before));
  if (cursor?.beforeId != null) q.set('beforeId', cursor.beforeId);
  q.set('limit', String(STREAM_PAGE_SIZE));
  return `/streams?${q.toString()}`;
}

/** Filters of the Devices page (and of `GET /api/devices`); '' is "any". */
export interface DeviceFilters {
  /** Part of the device id, any case. */
  search: string;
  online: '' | 'online' | 'offline';
  status: '' | 'enabled' | 'disabled';
}

/** Rows per Devices page. */
export const DEVICE_PAGE_SIZE = 50;

function devicesPath(filters: DeviceFilters, cursor: string | null): string {
  const q = new URLSearchParams();
  if (filters.search !== '') q.set('search', filters.search);
  if (filters.online !== '') q.set('online', String(filters.online === 'online'));
  if (filters.status !== '') q.set('status', filters.status);
  if (cursor !== null) q.set('cursor', cursor);
  q.set('limit', String(DEVICE_PAGE_SIZE));
  return `/devices?${q.toString()}`;
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

/** Where the .cast file of a recording downloads from (also the "Download .cast" link). */
export function recordingCastUrl(streamId: string): string {
  return `/api/recordings/${encodeURIComponent(streamId)}/cast`;
}

/** Largest .cast file the player downloads; a bigger one can still be downloaded as a file. */
export const MAX_CAST_BYTES = 512 * 1024 * 1024;

export interface CastDownloadOptions {
  signal: AbortSignal;
  /** Each piece of the file as text, in order (UTF-8 decoded across piece boundaries). */
  onText: (text: string) => void;
  /** Bytes received so far, and the total when the server said (Content-Length). */
  onProgress: (received: number, total: number | null) => void;
}

/**
 * Streams a recording's .cast file to `onText` as it arrives, so a big file can be parsed while
 * it downloads and progress shown. Throws ApiError (404 gone, 403 not allowed, network) like
 * apiFetch, and an ApiError `too_large` past MAX_CAST_BYTES.
 */
export async function downloadRecordingCast(streamId: string, options: CastDownloadOptions): Promise<void> {
  let res: Response;
  try {
    res = await fetch(recordingCastUrl(streamId), { credentials: 'same-origin', signal: options.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the console server. Check your connection.');
  }
  if (!res.ok) {
    let body: unknown = undefined;
    try {
      body = JSON.parse(await res.text());
    } catch {
      // not JSON: the status alone
    }
    throw errorOf(res, body);
  }
  const length = Number(res.headers.get('Content-Length'));
  const total = Number.isFinite(length) && length > 0 ? length : null;
  options.onProgress(0, total);
  if (res.body === null) {
    const text = await res.text();
    options.onProgress(text.length, total);
    options.onText(text);
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder('utf-8');
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (err instanceof DOMException && err.name === 'AbortError') throw err;
        throw new ApiError(0, 'network', 'The download of the recording broke off. Try again.');
      }
      if (chunk.done) break;
      received += chunk.value.byteLength;
      if (received > MAX_CAST_BYTES) {
        throw new ApiError(413, 'too_large', `This recording is larger than ${MAX_CAST_BYTES / 1024 / 1024} MiB, too large to play in the browser. Download the .cast file instead.`);
      }
      options.onProgress(received, total);
      const text = decoder.decode(chunk.value, { stream: true });
      // What onText throws (a parse error) ends the download and goes to the caller as it is.
      if (text !== '') options.onText(text);
    }
    finished = true;
  } finally {
    // Stop downloading the rest after an error; nothing to cancel after the end.
    if (!finished) void reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  const rest = decoder.decode();
  if (rest !== '') options.onText(rest);
}

/** Deletes a recording (admins only: 403 otherwise). */
export function deleteRecording(streamId: string): Promise<void> {
  return apiFetch<void>(`/recordings/${encodeURIComponent(streamId)}`, { method: 'DELETE' });
}

/** Changes the console settings (admins only: 403 otherwise). */
export function updateSettings(settings: ConsoleSettings): Promise<ConsoleSettings> {
  return apiFetch<ConsoleSettings>('/settings', { method: 'PUT', body: settings });
}

/** A console account as `GET /api/operators` lists it (admins only). */
export interface OperatorAccount {
  name: string;
  role: Role;
  /** ISO time the account was created. */
  createdAt: string;
}

/** The roles an account can have, in the order the selects show them. */
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

/** Creates an account (admins only); 409 `exists` when the name is taken, 400 for a bad name or password. */
export function createOperator(account: { name: string; password: string; role: Role }): Promise<void> {
  return apiFetch<void>('/operators', { method: 'POST', body: account });
}

/** Changes an account's role and/or password (a new password ends its sessions). */
export function updateOperator(name: string, change: { role?: Role; password?: string }): Promise<void> {
  return apiFetch<void>(`/operators/${encodeURIComponent(name)}`, { method: 'PATCH', body: change });
}

/** Changes your own password; 403 `wrong_password` when `currentPassword` is wrong. Sets a new session cookie. */
export function changeOwnPassword(currentPassword: string, newPassword: string): Promise<Me> {
  return apiFetch<Me>('/me/password', { method: 'POST', body: { currentPassword, newPassword } });
}

/**
 * "Add device" (admins only): a one-use enrollment token and the line to paste on the device; 400
 * naming a bad field, 409 `enrollment_refused` when the device is connected or disabled.
 */
export function createEnrollmentToken(spec: { target: string; tags: Record<string, string>; maps: string[]; ttlSeconds: number }): Promise<ConsoleEnrollmentToken> {
  return apiFetch<ConsoleEnrollmentToken>('/enrollment-tokens', { method: 'POST', body: spec });
}

/** Deletes an account (not one's own: 400). */
export function deleteOperator(name: string): Promise<void> {
  return apiFetch<void>(`/operators/${encodeURIComponent(name)}`, { method: 'DELETE' });
}

/** Ends a resumable terminal session on its device (its owner or an admin). */
export function endTerminalSession(sessionId: string): Promise<void> {
  return apiFetch<void>(`/terminal-sessions/${encodeURIComponent(sessionId)}`, { method: 'DELETE' });
}

/** Query keys, one factory so invalidation and reads agree. */
export const queryKeys = {
  me: () => ['me'] as const,
  /** Every device query: pages and the summary. */
  devices: () => ['devices'] as const,
  /** Every page of the device list, whatever the filters (for invalidation). */
  devicePages: () => ['devices', 'page'] as const,
  devicePage: (filters: DeviceFilters, cursor: string | null) => ['devices', 'page', filters, cursor] as const,
  deviceSummary: () => ['devices', 'summary'] as const,
  streams: (filters: StreamFilters) => ['streams', filters] as const,
  /** Every History query, whatever the filters (for invalidation). */
  allStreams: () => ['streams'] as const,
  recording: (streamId: string) => ['recording', streamId] as const,
  settings: () => ['settings'] as const,
  operators: () => ['operators'] as const,
  /** The caller's resumable terminal sessions, or (`all`) everyone's. */
  terminalSessions: (all: boolean) => ['terminal-sessions', all] as const,
  allTerminalSessions: () => ['terminal-sessions'] as const,
};

export const meQuery = () =>
  queryOptions({
    queryKey: queryKeys.me(),
    queryFn: ({ signal }) => fetchMe(signal),
    staleTime: 60_000,
  });

/**
 * One page of the device list. Nothing refetches it on a timer or on window focus: the page's
 * live updates (/api/fleet/events) say when what it shows has changed. While another page or
 * search loads, the last one stays on screen.
 */
export const devicePageQuery = (filters: DeviceFilters, cursor: string | null) =>
  queryOptions({
    queryKey: queryKeys.devicePage(filters, cursor),
    queryFn: ({ signal }) => apiFetch<DevicePage>(devicesPath(filters, cursor), { signal }),
    placeholderData: keepPreviousData,
    refetchOnWindowFocus: false,
  });

/** The fleet's counts; refreshed by the live updates, like the pages. */
export const deviceSummaryQuery = () =>
  queryOptions({
    queryKey: queryKeys.deviceSummary(),
    queryFn: ({ signal }) => apiFetch<DeviceSummary>('/fleet/summary', { signal }),
    refetchOnWindowFocus: false,
  });

export const streamsQuery = (filters: StreamFilters) =>
  infiniteQueryOptions({
    queryKey: queryKeys.streams(filters),
    queryFn: ({ signal, pageParam }) => apiFetch<StreamPage>(streamsPath(filters, pageParam), { signal }),
    initialPageParam: null as StreamCursor | null,
    getNextPageParam: (last): StreamCursor | null => (last.nextBefore === null ? null : { before: last.nextBefore, beforeId: last.nextBeforeId }),
  });

export const recordingQuery = (streamId: string) =>
  queryOptions({
    queryKey: queryKeys.recording(streamId),
    queryFn: ({ signal }) => apiFetch<RecordingInfo>(`/recordings/${encodeURIComponent(streamId)}`, { signal }),
  });

export const settingsQuery = () =>
  queryOptions({
    queryKey: queryKeys.settings(),
    queryFn: ({ signal }) => apiFetch<ConsoleSettings>('/settings', { signal }),
  });

export const operatorsQuery = () =>
  queryOptions({
    queryKey: queryKeys.operators(),
    queryFn: async ({ signal }) => (await apiFetch<{ operators: OperatorAccount[] }>('/operators', { signal })).operators,
  });

/**
 * Resumable terminal sessions: a short list (an operator's own, or an admin's view of everyone's),
 * read when the Devices page opens and when the window gets focus again, never on a timer (the
 * Devices page asks nothing while nothing changes). Expiry is shown from `expiresAt` as time passes.
 */
export const terminalSessionsQuery = (all: boolean) =>
  queryOptions({
    queryKey: queryKeys.terminalSessions(all),
    queryFn: async ({ signal }) => (await apiFetch<TerminalSessionList>(`/terminal-sessions${all ? '?all=true' : ''}`, { signal })).sessions,
    refetchOnWindowFocus: true,
  });
