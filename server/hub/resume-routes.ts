/**
 * The two calls a side of a resumable (v2) stream makes with its resume key:
 *
 *   POST /streams/{id}/resume   {side, key}          → {url, authToken} of the endpoint carrying it now
 *   POST /streams/{id}/abandon  {side, key, reason}  → 204; the stream ends at once
 *
 * The caller proves who it is first (a ServiceConnect policy for the service side, the device's
 * own SAS token for the device side), then holds the key it was given at initiation; the store
 * keeps only the key's SHA-256, compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { readJson, sendJson } from '../http/respond.js';
import type { Router } from '../http/router.js';
import type { StreamRecord } from '../store/store.js';
import type { HubContext } from './hub-context.js';
import { hashResumeKey } from './stream-broker.js';

/** How long a resume token is good for: a side connects with it at once. */
const RESUME_TOKEN_TTL_SECONDS = 60;

const side = z.enum(['service', 'device']);
const key = z.string().min(16).max(100);
const resumeBody = z.object({ side, key });
const abandonBody = z.object({ side, key, reason: z.string().max(200).default('given up by its side') });

async function body<T>(req: IncomingMessage, schema: z.ZodType<T>, what: string): Promise<T> {
  const parsed = schema.safeParse(await readJson(req));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DsError(ErrorCode.InvalidRequest, `invalid ${what} request: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}

export function addResumeRoutes(router: Router, hub: HubContext): void {
  const { store, auth, broker } = hub;

  /** Authenticates the caller as `who`, then checks its resume key; returns the stream's record. */
  async function holder(req: IncomingMessage, id: string, who: 'service' | 'device', given: string): Promise<StreamRecord> {
    // Who the caller is comes before anything about the stream, so nobody learns which ids exist.
    const device = who === 'service' ? undefined : await auth.anyDevice(req.headers.authorization);
    if (who === 'service') await auth.service(req.headers.authorization, ['ServiceConnect']);
    const s = await store.streams.get(id);
    // A device gets one answer for "no such stream" and "another device's stream".
    if (device !== undefined && (s === undefined || s.deviceId !== device.deviceId)) {
      throw new DsError(ErrorCode.Unauthorized, `this device holds no stream "${id}"`);
    }
    if (s === undefined) throw new DsError(ErrorCode.StreamNotFound, `stream "${id}" is not in the log`);
    const hash = await store.streams.resumeKeyHash(id, who);
    const digest = Buffer.from(hashResumeKey(given), 'hex');
    if (hash === undefined || !timingSafeEqual(digest, Buffer.from(hash.padEnd(64, '0').slice(0, 64), 'hex'))) {
      throw new DsError(ErrorCode.Unauthorized, `the resume key does not match this stream's ${who} side`);
    }
    return s;
  }

  /**
   * A side lost its leg and comes back: it gets a new single-use token for the endpoint that
   * carries the stream now — the same one, or another when that node is gone.
   */
  router.add('POST', '/streams/:id/resume', async ({ req, res, params }) => {
    const { side: who, key: given } = await body(req, resumeBody, 'resume');
    const id = params.id as string;
    const s = await holder(req, id, who, given);
    const now = Date.now();
    if (s.interruptedAt !== null && s.interruptedAt + s.resumeWindowMs < now) await broker.endResumeTimeouts(now);
    const current = await store.streams.get(id);
    if (current === undefined || current.state === 'ended') {
      throw new DsError(ErrorCode.StreamNotFound, `stream "${id}" has ended (${current?.reason ?? 'gone'}); initiate a new one`);
    }
    // 'accepted' may still be open: the endpoint's report of the pairing can be in flight when it dies.
    if (current.state === 'pending') throw new DsError(ErrorCode.InvalidRequest, `stream "${id}" was never accepted; nothing to resume`);
    const gateway = await hub.resumeGateway(current);
    await store.streams.interrupted(id, now, { bytesToDevice: 0, bytesFromDevice: 0 });
    const exp = Math.ceil(now / 1000) + RESUME_TOKEN_TTL_SECONDS;
    const authToken = hub.signToken({ sid: id, side: who, dev: current.deviceId, exp, gw: gateway.node, res: true });
    sendJson(res, 200, { url: `${gateway.url}/bridges/${id}`, authToken });
  });

  /** A side gives an interrupted stream up: it ends now rather than when its window runs out. */
  router.add('POST', '/streams/:id/abandon', async ({ req, res, params }) => {
    const { side: who, key: given, reason } = await body(req, abandonBody, 'abandon');
    const id = params.id as string;
    await holder(req, id, who, given);
    await broker.abandon(id, who, reason);
    res.writeHead(204).end();
  });
}
