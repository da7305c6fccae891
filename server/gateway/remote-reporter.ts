/**
 * Reports stream events to a hub in another process: `POST {hubUrl}/internal/streams/{id}`.
 * Bounded: at most `maxQueued` reports wait; each is tried three times, then logged and dropped
 * (the hub closes such records itself at its handshake deadline or its next start).
 */
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { StreamEnd } from '../store/store.js';
import type { StreamReporter } from './gateway.js';

export interface RemoteReporterOptions {
  hubUrl: string;
  key: Buffer;
  ca: string | undefined;
  log: (line: string) => void;
  maxQueued?: number;
}

export function createRemoteReporter(o: RemoteReporterOptions): StreamReporter {
  let inFlight = 0;
  const max = o.maxQueued ?? 10_000;
  const auth = `Bearer ${o.key.toString('base64url')}`;

  const post = (streamId: string, body: object, attempt: number): void => {
    const url = new URL(`/internal/streams/${encodeURIComponent(streamId)}`, o.hubUrl);
    const text = JSON.stringify(body);
    const send = url.protocol === 'https:' ? request : httpRequest;
    const req = send(url, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      ca: o.ca,
      timeout: 10_000,
    }, (res) => {
      res.resume();
      inFlight -= 1;
      if ((res.statusCode ?? 500) >= 500) retry(streamId, body, attempt, `status ${res.statusCode}`);
      else if ((res.statusCode ?? 0) >= 300) o.log(`stream ${streamId}: hub refused the report (status ${res.statusCode})`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      inFlight -= 1;
      retry(streamId, body, attempt, err.message);
    });
    req.end(text);
  };

  const retry = (streamId: string, body: object, attempt: number, why: string): void => {
    if (attempt >= 3) {
      o.log(`stream ${streamId}: could not report to the hub (${why}); giving up`);
      return;
    }
    setTimeout(() => enqueue(streamId, body, attempt + 1), 500 * 2 ** attempt).unref();
  };

  const enqueue = (streamId: string, body: object, attempt = 0): void => {
    if (inFlight >= max) {
      o.log(`stream ${streamId}: report dropped, ${max} reports already in flight`);
      return;
    }
    inFlight += 1;
    post(streamId, body, attempt);
  };

  return {
    opened: (streamId, v2) => enqueue(streamId, { event: 'opened', v2 }),
    ended: (streamId, end: StreamEnd) => enqueue(streamId, { event: 'ended', ...end }),
    interrupted: (streamId, totals, at) => enqueue(streamId, { event: 'interrupted', ...totals, at }),
    resumed: (streamId) => enqueue(streamId, { event: 'resumed' }),
  };
}
