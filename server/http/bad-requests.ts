/**
 * Requests the HTTP parser could not take, and bodies a handler answered without reading.
 *
 * A request that does not parse (headers past Node's 16 KiB, a bad method or Content-Length, a
 * control byte in a header) gets the typed JSON error any other refusal gets, 400 or 431, and the
 * connection closes — not a reset with no answer. When a response on the same connection is still
 * being made (a pipelined request after it was malformed) the error waits for it, so the good
 * request keeps its answer.
 *
 * A body its handler did not read (an answer given from the headers alone: 401, 413, 404) is read
 * on by Node to keep the connection; the server times no request as a whole (uploads may be long),
 * so a client that trickled such a body could hold the connection for ever. It gets LINGER_MS to
 * finish it, and the connection is closed after that.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { errorBody } from './respond.js';

/** How long a body nobody reads may take to finish arriving after its answer. */
export const LINGER_MS = 5000;

/** The answer a parse error gets, or undefined when there is no one to answer (the peer is gone). */
export function clientErrorAnswer(err: Error & { code?: string; reason?: unknown }): DsError | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new DsError(ErrorCode.HeadersTooLarge, 'request headers too large: at most 16 KiB in all');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new DsError(ErrorCode.RequestBodyTimeout, 'the request did not arrive in time');
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    default:
      // llhttp's reason ("Invalid method encountered", "Invalid header value char") says what was wrong.
      return new DsError(ErrorCode.InvalidRequest, `malformed HTTP request${typeof err.reason === 'string' ? `: ${err.reason}` : ''}`);
  }
}

function rawAnswer(err: DsError): string {
  const { status, body } = errorBody(err);
  const text = JSON.stringify(body);
  const phrase = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  return `HTTP/1.1 ${status} ${phrase}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${text}`;
}

/** Installs both on `server`. */
export function answerBadRequests(server: Server): void {
  // The request being answered on each connection: a parse error of the request after it waits for it.
  const current = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
  // Connections whose parse error is being answered: llhttp repeats the error for every chunk that
  // follows, and only the first is answered (the others add nothing: no listener, no write).
  const answering = new WeakSet<Socket>();
  server.on('clientError', (err: Error & { code?: string; reason?: unknown }, socket: Socket) => {
    // A repeat of an error being answered: ignored (the linger timer ends the connection).
    if (answering.has(socket)) return;
    const answer = clientErrorAnswer(err);
    if (answer === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    const pending = current.get(socket);
    // The fault is inside the body of the request being answered (a bad chunk size, say): that
    // request cannot end, so the connection goes now, as Node's own handling does.
    if (pending !== undefined && !pending.req.complete) {
      socket.destroy();
      return;
    }
    answering.add(socket);
    const write = (): void => {
      // end() sends the answer and then a FIN; what the peer still sends is read and dropped so
      // that its close is seen (an unread receive buffer would make the close a reset, which can
      // lose the answer on its way), and the linger time bounds it all.
      socket.resume();
      socket.end(rawAnswer(answer));
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    if (pending !== undefined && !pending.res.writableFinished) {
      // Nothing more is read meanwhile (more of the garbage would only repeat the error).
      socket.pause();
      pending.res.once('finish', write);
      // A response that never finishes (its connection failed) leaves nothing to answer after.
      pending.res.once('close', () => {
        if (!pending.res.writableFinished) socket.destroy();
      });
      return;
    }
    write();
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    current.set(req.socket, { req, res });
    res.once('finish', () => {
      if (current.get(req.socket)?.res === res) current.delete(req.socket);
      if (req.complete) return;
      // Answered before its body was read: Node reads the rest to keep the connection; a body
      // that does not finish arriving soon closes it.
      const socket = req.socket;
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      const gone = (): void => clearTimeout(timer);
      socket.once('close', gone);
      req.once('end', () => {
        clearTimeout(timer);
        socket.off('close', gone);
      });
    });
  });
}
