/** A test client of the console API and terminal socket (what a browser does, in Node). */
import { request } from 'node:https';
import WebSocket from 'ws';
import { FrameDecoder, TERMINAL_PROTOCOL_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { startHub, type HubHandle } from './harness.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export class ConsoleClient {
  readonly hub: HubHandle;
  readonly origin: string;
  /** Every answer body is checked against these (no secret may reach the browser). */
  readonly secrets: string[] = [];

  constructor(hub: HubHandle) {
    this.hub = hub;
    this.origin = new URL(hub.url).origin;
  }

  /** One console API call; `from` is a loopback source address (127.x.y.z) to call from. */
  call(method: string, path: string, opts: { body?: unknown; cookie?: string; origin?: string | null; from?: string } = {}): Promise<Answer> {
    const url = new URL(path, this.hub.url);
    const text = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (text !== undefined) headers['content-type'] = 'application/json';
    if (opts.cookie !== undefined) headers.cookie = opts.cookie;
    if (opts.origin !== null) headers.origin = opts.origin ?? this.origin;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, ca: this.hub.ca, ...(opts.from === undefined ? {} : { localAddress: opts.from, agent: false }) }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          const leaked = this.secrets.find((s) => body.includes(s));
          if (leaked !== undefined) reject(new Error(`${method} ${path} answered with a secret`));
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: body, json });
        });
      });
      req.on('error', reject);
      req.end(text);
    });
  }

  /** Logs in and returns the session cookie (`__Host-ds_session=…` over TLS). */
  async login(username: string, password: string, from?: string): Promise<string> {
    const r = await this.call('POST', '/api/login', { body: { username, password }, ...(from === undefined ? {} : { from }) });
    if (r.status !== 200) throw new Error(`login as ${username} answered ${r.status}: ${r.text}`);
    return String(r.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  }

  terminalSocket(deviceId: string, cookie: string | undefined, wsOrigin = this.origin, path = '/api/terminal'): WebSocket {
    const q = path === '/api/terminal' ? `deviceId=${encodeURIComponent(deviceId)}&cols=80&rows=24` : `streamId=${encodeURIComponent(deviceId)}`;
    const headers: Record<string, string> = { origin: wsOrigin };
    if (cookie !== undefined) headers.cookie = cookie;
    return new WebSocket(`${this.hub.url.replace(/^http/, 'ws')}${path}?${q}`, { headers, ca: this.hub.ca });
  }
}

export interface TerminalSession {
  ws: WebSocket;
  output(): string;
  statuses: string[];
  closed: Promise<{ code: number; reason: string }>;
  /** Sends HELLO (once open). */
  hello(cols?: number, rows?: number): Promise<void>;
  type(text: string): void;
  resize(cols: number, rows: number): void;
}

/** Wraps a terminal (or watch) socket: collects output and status texts until it closes. */
export function session(ws: WebSocket): TerminalSession {
  const decoder = new FrameDecoder();
  let out = '';
  const statuses: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      statuses.push((data as Buffer).toString());
      return;
    }
    for (const f of decoder.push(new Uint8Array(data as Buffer))) {
      if (f.type === 'data') out += Buffer.from(f.data).toString('utf8');
      if (f.type === 'exit') out += `\n[exit ${f.code}]`;
      if (f.type === 'resize') out += `\n[resize ${f.cols}x${f.rows}]`;
    }
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const opened = new Promise<void>((resolve) => {
    if (ws.readyState === ws.OPEN) resolve();
    else ws.once('open', () => resolve());
  });
  return {
    ws,
    output: () => out,
    statuses,
    closed,
    async hello(cols = 80, rows = 24) {
      await opened;
      ws.send(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, cols, rows, term: 'xterm-256color' }));
    },
    type(text) {
      ws.send(encodeFrame({ type: 'data', data: new TextEncoder().encode(text) }));
    },
    resize(cols, rows) {
      ws.send(encodeFrame({ type: 'resize', cols, rows }));
    },
  };
}

export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A hub process whose console has an admin with `adminPassword`, a client for it (the owner key
 * among the secrets no answer may carry) and the admin's session cookie.
 */
export async function startConsoleHub(adminPassword: string, args: string[] = []): Promise<{ hub: HubHandle; client: ConsoleClient; admin: string }> {
  const hub = await startHub(args, undefined, { DEVICESTREAMS_ADMIN_PASSWORD: adminPassword });
  const client = new ConsoleClient(hub);
  client.secrets.push(hub.ownerCs.split('SharedAccessKey=')[1] ?? 'never');
  return { hub, client, admin: await client.login('admin', adminPassword) };
}
