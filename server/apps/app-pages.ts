/**
 * The small pages an app origin answers itself (no credential, an offline device, a refused
 * service): plain HTML with a sentence that says what to do, never a hang or a bare status.
 */
import type { ServerResponse } from 'node:http';

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Answers with a page: a title, a sentence, and a link back to the console. */
export function sendAppPage(res: ServerResponse, status: number, title: string, sentence: string, consoleUrl: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1d2430}</style></head>
<body><main><h1>${escape(title)}</h1><p>${escape(sentence)}</p>
<p><a href="${escape(consoleUrl)}">Open the DeviceStreams console</a></p></main></body></html>
`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(body);
}
