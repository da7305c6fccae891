/**
 * The hub's hold on a streaming endpoint that runs in another process (`--roles gateway`): it asks
 * the endpoint to close a stream (device disabled or deleted, handshake deadline passed) with
 * `POST {gatewayUrl}/internal/bridges/{id}/abort`, signed with the key both derive from the shared
 * stream-token secret. One try with a bounded wait: the broker records the stream's end itself if
 * no report follows.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { z } from 'zod';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { readJson } from '../http/respond.js';
import type { GatewayControl } from '../hub/stream-broker.js';

export const ABORT_PATH = /^\/internal\/bridges\/([A-Za-z0-9-]{1,64})\/abort$/;

export interface RemoteControlOptions {
  /** https (or http) base URL of the streaming endpoint. */
  gatewayUrl: string;
  key: Buffer;
  ca: string | undefined;
  log: (line: string) => void;
}

/** A GatewayControl that reaches the endpoint over HTTPS. */
export function createRemoteGatewayControl(o: RemoteControlOptions): GatewayControl {
  const auth = `Bearer ${o.key.toString('base64url')}`;
  return {
    abort(streamId, code, reason) {
      const url = new URL(`/internal/bridges/${encodeURIComponent(streamId)}/abort`, o.gatewayUrl);
      const text = JSON.stringify({ code, reason });
      const send = url.protocol === 'https:' ? request : httpRequest;
      const req = send(url, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        ca: o.ca,
        timeout: 5000,
      }, (res) => {
        res.resume();
        if ((res.statusCode ?? 500) >= 300) o.log(`stream ${streamId}: the streaming endpoint refused to close it (status ${res.statusCode})`);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => o.log(`stream ${streamId}: could not ask the streaming endpoint to close it (${err.message})`));
      req.end(text);
    },
  };
}

const abortBody = z.object({ code: z.number().int().min(4000).max(4999), reason: z.string().max(120) });

/** Checks a hub's Bearer key in constant time; throws 401 otherwise. */
export function checkInternalKey(header: string | undefined, key: Buffer): void {
  const given = Buffer.from((header ?? '').replace(/^Bearer /, ''), 'utf8');
  const expected = Buffer.from(key.toString('base64url'), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new DsError(ErrorCode.Unauthorized, 'internal key does not match');
  }
}

/** The endpoint's side: answers an abort request from the hub. */
export async function handleAbortRequest(req: IncomingMessage, res: ServerResponse, streamId: string, key: Buffer, gateway: GatewayControl): Promise<void> {
  checkInternalKey(req.headers.authorization, key);
  const parsed = abortBody.safeParse(await readJson(req));
  if (!parsed.success) throw new DsError(ErrorCode.InvalidRequest, `invalid abort request: ${parsed.error.issues[0]?.message ?? ''}`);
  gateway.abort(streamId, parsed.data.code, parsed.data.reason);
  res.writeHead(204).end();
}
