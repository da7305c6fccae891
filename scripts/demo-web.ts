/**
 * The demo device's "web UI" (`npm start` maps it as `http`; the tests use it as a device's web
 * server): a status page that loads an absolute-path script (`/app.js`), a WebSocket echo at
 * `/ws`, a Server-Sent Events counter at `/events`, and `/headers`, the request's headers as the
 * device received them. It keeps the Cookie headers of its last requests (`cookiesSeen`) so a test
 * can show what reached the device. Listens on loopback only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface DemoWeb {
  port: number;
  server: Server;
  /** Cookie headers of the last requests and upgrades (at most 500), oldest first. */
  cookiesSeen: string[];
  close(): Promise<void>;
}

export interface DemoWebOptions {
  port?: number;
  /** The device name the page shows. */
  name?: string;
  /** More routes (tests): return true when handled. */
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

const PAGE = (name: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${name} status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"></head>
<body><main>
<h1>${name}</h1>
<p>This page is served by a web server on the device, reached through a DeviceStreams stream.</p>
<dl>
<dt>Script</dt><dd id="script">not loaded</dd>
<dt>WebSocket echo</dt><dd id="ws">connecting…</dd>
<dt>Event stream</dt><dd id="events">waiting…</dd>
</dl>
<form id="echo"><label for="text">Send to the echo</label> <input id="text" value="hello"> <button>Send</button></form>
<script src="/app.js"></script>
</main></body></html>
`;

const SCRIPT = `document.getElementById('script').textContent = 'loaded from /app.js';
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
const wsOut = document.getElementById('ws');
ws.onopen = () => { wsOut.textContent = 'open'; ws.send('ping'); };
ws.onmessage = (e) => { wsOut.textContent = 'echo: ' + e.data; };
ws.onclose = () => { wsOut.textContent = 'closed'; };
document.getElementById('echo').addEventListener('submit', (e) => { e.preventDefault(); ws.send(document.getElementById('text').value); });
const events = new EventSource('/events');
events.onmessage = (e) => { document.getElementById('events').textContent = 'count ' + e.data; };
`;

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}';

export async function startDemoWeb(o: DemoWebOptions = {}): Promise<DemoWeb> {
  const cookiesSeen: string[] = [];
  const see = (req: IncomingMessage): void => {
    cookiesSeen.push(req.headers.cookie ?? '');
    if (cookiesSeen.length > 500) cookiesSeen.shift();
  };
  const server = createServer((req, res) => {
    see(req);
    if (o.extra?.(req, res) === true) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE(o.name ?? 'demo-device'));
    } else if (path === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(SCRIPT);
    } else if (path === '/style.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' }).end(STYLE);
    } else if (path === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    } else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let n = 0;
      const tick = (): void => void res.write(`data: ${++n}\n\n`);
      tick();
      const timer = setInterval(tick, 1000);
      res.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    see(req);
    socket.on('error', () => undefined);
    if ((req.url ?? '').split('?')[0] !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    cookiesSeen,
    close: () => new Promise((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
