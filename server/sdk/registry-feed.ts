/**
 * Following the hub's registry change feed (`GET /registry/events`, Server-Sent Events): each batch
 * names the devices that changed, or says that many did. Reconnects by itself with a growing delay
 * (the hub restarting, a node of a cluster going away); after a reconnect the first batch is
 * `{ many: true }`, since changes may have been missed meanwhile.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ServiceClient } from './service-client.js';

export type RegistryBatch = { deviceIds: string[] } | { many: true };

export interface RegistryFollower {
  close(): void;
}

/** Longest event a feed may send; a longer one means the stream is not what it should be. */
const MAX_EVENT_BYTES = 64 * 1024;

export function followRegistry(service: ServiceClient, onBatch: (batch: RegistryBatch) => void, log: (line: string) => void = () => undefined): RegistryFollower {
  let closed = false;
  let attempt = 0;
  let current: { destroy(): void } | undefined;
  let retry: NodeJS.Timeout | undefined;

  const schedule = (why: string): void => {
    if (closed) return;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
    attempt += 1;
    log(`registry feed: ${why}; following again in ${(delay / 1000).toFixed(1)} s`);
    retry = setTimeout(open, delay);
    retry.unref();
  };

  function open(): void {
    const { options, secure } = service.streamingRequest('/registry/events');
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        schedule(`the hub answered ${res.statusCode ?? '?'}`);
        return;
      }
      const reconnected = attempt > 0;
      attempt = 0;
      if (reconnected) onBatch({ many: true });
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let i;
        while ((i = text.indexOf('\n\n')) >= 0) {
          const event = text.slice(0, i);
          text = text.slice(i + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (data === undefined) continue;
          try {
            const v = JSON.parse(data) as { deviceIds?: unknown; many?: unknown };
            if (v.many === true) onBatch({ many: true });
            else if (Array.isArray(v.deviceIds)) onBatch({ deviceIds: v.deviceIds.filter((x): x is string => typeof x === 'string') });
          } catch {
            // not one of ours; skip it
          }
        }
        if (text.length > MAX_EVENT_BYTES) res.destroy(new Error('event too long'));
      });
      res.on('close', () => schedule('the feed ended'));
    });
    current = req;
    req.on('error', (err) => schedule(err.message));
    req.end();
  }

  open();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      current?.destroy();
    },
  };
}
