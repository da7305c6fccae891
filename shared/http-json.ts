/**
 * One JSON request to the hub (node-only), for the few calls a device makes over HTTPS rather than
 * its control channel (resuming a stream). The hub's typed error becomes a DsError; a network
 * failure an Error that says so. Bounded: answers larger than 64 KiB and waits past `timeoutMs`
 * are failures.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DsError, ErrorCode, isErrorBody } from './errors.js';
import { answeredByHub, proxyAgent, proxyNetworkError, proxyRefusal } from './proxy.js';
import { secureContextFor } from './tls-client.js';

export async function postJson(url: string, headers: Record<string, string>, body: unknown, o: { ca?: string | Buffer | undefined; timeoutMs?: number; proxy?: URL | undefined } = {}): Promise<unknown> {
  const u = new URL(url);
  const text = JSON.stringify(body);
  const secure = u.protocol === 'https:';
  const secureContext = secure ? secureContextFor(o.ca) : undefined;
  const { status, raw, fromHub } = await new Promise<{ status: number; raw: string; fromHub: boolean }>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)({
      protocol: u.protocol,
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port,
      path: `${u.pathname}${u.search}`,
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), accept: 'application/json' },
      timeout: o.timeoutMs ?? 15_000,
      ...(secureContext === undefined ? {} : { secureContext }),
      ...(o.proxy === undefined ? {} : { agent: proxyAgent(o.proxy) }),
    }, (res) => {
      let size = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 64 * 1024) req.destroy(new Error('answer larger than 64 KiB'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: Buffer.concat(chunks).toString('utf8'), fromHub: answeredByHub(res.socket) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 15_000} ms`)));
    req.on('error', (err) => reject(o.proxy === undefined ? new Error(`cannot reach the hub at ${u.origin}: ${err.message}`, { cause: err }) : proxyNetworkError(o.proxy, err)));
    req.end(text);
  });
  let json: unknown;
  try {
    json = raw === '' ? undefined : JSON.parse(raw);
  } catch {
    json = undefined;
  }
  if (status >= 300) {
    if (isErrorBody(json)) throw new DsError(json.errorCode as never, json.message);
    const refused = o.proxy === undefined ? undefined : proxyRefusal(o.proxy, status, fromHub);
    if (refused !== undefined) throw refused;
    throw new DsError(ErrorCode.InternalError, `the hub answered HTTP ${status} without a DeviceStreams error: check the hub URL (a balancer or another server may be answering there)`);
  }
  return json;
}
