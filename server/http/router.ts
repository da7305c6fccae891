/**
 * A small router: method + path pattern (`/devices/:id`) → handler. Path parameters are
 * URL-decoded once; a malformed escape is a 400, an unknown path a 404, a known path with another
 * method a 405.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DsError, ErrorCode } from '../../shared/errors.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

/**
 * A request target's path and query, read without the URL constructor (which takes "//x" for a
 * host and throws on other odd targets a client may send).
 */
export function splitTarget(target: string | undefined): { pathname: string; query: URLSearchParams } {
  const t = target ?? '/';
  const q = t.indexOf('?');
  return { pathname: q < 0 ? t : t.slice(0, q), query: new URLSearchParams(q < 0 ? '' : t.slice(q + 1)) };
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route<H> {
  method: string;
  segments: string[];
  handler: H;
}

/** Routes of one HTTP surface; `H` is the handler type that surface uses (the hub's by default). */
export class Router<H = Handler> {
  readonly #routes: Route<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.#routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /**
   * Finds the handler for a request: undefined when no path matches, a 405 DsError when the path
   * matches with another method, a 400 DsError when a parameter is not valid URL encoding.
   */
  match(method: string, url: string): { handler: H; params: Record<string, string>; query: URLSearchParams } | undefined {
    const parsed = splitTarget(url);
    const parts = parsed.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      pathMatched = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { handler: route.handler, params, query: parsed.query };
      }
    }
    if (pathMatched) throw new DsError(ErrorCode.MethodNotAllowed, `${method} is not allowed on ${parsed.pathname}`);
    return undefined;
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const v = parts[i] as string;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(v);
      } catch {
        throw new DsError(ErrorCode.ArgumentInvalid, `path segment "${v.slice(0, 40)}" is not valid URL encoding`);
      }
    } else if (p !== v) {
      return undefined;
    }
  }
  return params;
}
