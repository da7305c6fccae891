/**
 * The console's side of resumable terminal sessions (terminal protocol version 2): the store rows
 * that say which shell-server session belongs to whom (terminal-sessions in the store), written as
 * the bridge sees a session announced, attached, detached and gone; the list an operator picks a
 * session from; and ending a session on its device for its owner or an admin.
 *
 * The secret that reattaches a session stays here: the bridge takes it out of the shell server's
 * SESSION frame before the browser sees it and puts it into the browser's attach HELLO. So a page
 * (or anything that reads it) cannot reattach a session without the console, and the console checks
 * that the operator reattaching it is the one who opened it. The secret lives in the store so any
 * console node of a cluster can reattach.
 */
import type { TerminalSessionInfo } from '../../shared/console-api.js';
import { ConsoleCloseCode, type ConsoleCloseCodeValue } from '../../shared/console-protocol.js';
import { FrameDecoder, SessionCloseCode, TERMINAL_RESUMABLE_VERSION, TerminalProtocolError, encodeFrame, type TerminalFrame } from '../../shared/terminal-protocol.js';
import type { ServiceClient } from '../sdk/service-client.js';
import type { Store, TerminalSessionRow } from '../store/store.js';
import { ApiFailure, fromHubError } from './api-errors.js';

export interface ResumableTerminalsOptions {
  store: Store;
  /** This console node (the sessions it bridges are its to detach when it restarts). */
  node: string;
  service: ServiceClient;
  streamName: string;
  connectTimeoutSeconds: number;
  responseTimeoutSeconds: number;
  log: (line: string) => void;
}

/** Why a browser may not reattach a session: a console close code and a sentence. */
export class TerminalRefusal extends Error {
  readonly code: ConsoleCloseCodeValue;

  constructor(code: ConsoleCloseCodeValue, message: string) {
    super(message);
    this.code = code;
  }
}

/** Sessions listed at most (an operator has a handful; admins see everyone's, newest first). */
const MAX_LISTED = 200;
/** Expired rows are deleted this often. */
const SWEEP_MS = 60_000;
/** How long ending a session on its device may take once the stream is up. */
const END_ANSWER_MS = 10_000;

/** What the browser may know of a session: never its secret. */
function present(r: TerminalSessionRow): TerminalSessionInfo {
  return {
    sessionId: r.sessionId,
    deviceId: r.deviceId,
    operator: r.operator,
    createdAt: new Date(r.createdAt).toISOString(),
    attached: r.attached,
    detachedAt: r.detachedAt === null ? null : new Date(r.detachedAt).toISOString(),
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
    recordingId: r.recordingId,
  };
}

export class ResumableTerminals {
  readonly #o: ResumableTerminalsOptions;
  readonly #sweeper: NodeJS.Timeout;

  constructor(o: ResumableTerminalsOptions) {
    this.#o = o;
    this.#sweeper = setInterval(() => {
      o.store.terminalSessions.deleteExpired(Date.now()).catch((err: unknown) => o.log(`terminal sessions: could not sweep expired ones: ${String(err)}`));
    }, SWEEP_MS);
    this.#sweeper.unref();
  }

  /**
   * After a restart of this node (or, in a cluster, the death of `node`): the sessions it bridged
   * lost their connections, so they are detached as of now; expired ones are deleted.
   */
  async recover(node: string = this.#o.node): Promise<number> {
    const now = Date.now();
    const n = await this.#o.store.terminalSessions.detachNode(node, now);
    await this.#o.store.terminalSessions.deleteExpired(now);
    return n;
  }

  /** The session a browser asks to reattach, when it may: its own, on that device; else a TerminalRefusal. */
  async forReattach(sessionId: string, deviceId: string, operatorId: string): Promise<TerminalSessionRow> {
    const row = await this.#o.store.terminalSessions.get(sessionId);
    if (row === undefined) throw new TerminalRefusal(ConsoleCloseCode.SessionEnded, 'This terminal session has ended (it was left detached too long, its shell exited, or it was ended).');
    if (row.operatorId !== operatorId) throw new TerminalRefusal(ConsoleCloseCode.Forbidden, 'This terminal session belongs to another operator.');
    if (row.deviceId !== deviceId) throw new TerminalRefusal(ConsoleCloseCode.NotFound, `This terminal session is on device ${row.deviceId}, not ${deviceId}.`);
    return row;
  }

  /** The secret to put into the attach HELLO of `row`. */
  secretOf(row: TerminalSessionRow): Uint8Array {
    return Buffer.from(row.secret, 'base64url');
  }

  /** The shell server announced a new session on this connection; returns its attach number (1). */
  async announced(s: { sessionId: string; secret: Uint8Array; deviceId: string; operator: string; operatorId: string; streamId: string; recordingId: string | null; detachTimeoutSeconds: number }): Promise<number> {
    await this.#o.store.terminalSessions.create({
      sessionId: s.sessionId,
      deviceId: s.deviceId,
      operator: s.operator,
      operatorId: s.operatorId,
      secret: Buffer.from(s.secret).toString('base64url'),
      recordingId: s.recordingId,
      streamId: s.streamId,
      node: this.#o.node,
      createdAt: Date.now(),
      detachTimeoutMs: s.detachTimeoutSeconds * 1000,
    });
    return 1;
  }

  /** This connection holds the session now; its attach number, or undefined when the row is gone. */
  attached(sessionId: string, streamId: string): Promise<number | undefined> {
    return this.#o.store.terminalSessions.attach(sessionId, this.#o.node, streamId, Date.now());
  }

  /** This connection (attach `seq`) ended and the session goes on without it. */
  async detached(sessionId: string, seq: number, detachTimeoutMs: number, recorded: { output: number; input: number }): Promise<void> {
    const at = Date.now();
    await this.#o.store.terminalSessions.detach(sessionId, seq, { at, expiresAt: at + detachTimeoutMs, outputRecorded: recorded.output, inputRecorded: recorded.input });
  }

  /** The session ended (its shell exited, it expired, it was ended): nobody can reattach it. */
  async gone(sessionId: string): Promise<void> {
    await this.#o.store.terminalSessions.delete(sessionId);
  }

  /** Sessions of one operator, or everyone's (`operatorId` undefined), not expired. */
  async list(operatorId: string | undefined): Promise<TerminalSessionInfo[]> {
    return (await this.#o.store.terminalSessions.list({ operatorId, now: Date.now(), limit: MAX_LISTED })).map(present);
  }

  get(sessionId: string): Promise<TerminalSessionRow | undefined> {
    return this.#o.store.terminalSessions.get(sessionId);
  }

  /**
   * Ends a session on its device: a `shell` stream with an end HELLO (the secret proves the right),
   * then forgets it. A connection attached to it is told by the shell server. Throws an ApiFailure
   * (502) when the device cannot be reached; the row is kept so it can be tried again.
   */
  async end(row: TerminalSessionRow, by: string): Promise<void> {
    let stream;
    try {
      stream = await this.#o.service.initiateStream(row.deviceId, this.#o.streamName, {
        connectTimeoutSeconds: this.#o.connectTimeoutSeconds,
        responseTimeoutSeconds: this.#o.responseTimeoutSeconds,
        operator: by,
      });
    } catch (err) {
      const f = fromHubError(err);
      throw new ApiFailure(502, 'device_unreachable', `Could not reach ${row.deviceId} to end the session (${f.message}); it ends by itself once it has been detached for its timeout.`);
    }
    const answer = await new Promise<TerminalFrame | undefined>((resolve) => {
      const decoder = new FrameDecoder();
      const timer = setTimeout(() => resolve(undefined), END_ANSWER_MS);
      const done = (f: TerminalFrame | undefined): void => {
        clearTimeout(timer);
        resolve(f);
      };
      stream.on('data', (chunk: Buffer) => {
        try {
          for (const f of decoder.push(chunk)) if (f.type === 'close') done(f);
        } catch (err) {
          this.#o.log(`terminal session ${row.sessionId}: ${err instanceof TerminalProtocolError ? err.message : String(err)}`);
          done(undefined);
        }
      });
      stream.once('error', () => done(undefined));
      stream.once('close', () => done(undefined));
      stream.write(encodeFrame({ type: 'hello', version: TERMINAL_RESUMABLE_VERSION, cols: 80, rows: 24, term: '', session: { mode: 'end', sessionId: row.sessionId, secret: this.secretOf(row) } }));
    });
    stream.destroy();
    if (answer?.type !== 'close') throw new ApiFailure(502, 'device_no_answer', `${row.deviceId} did not confirm the end of the session; it ends by itself once it has been detached for its timeout.`);
    this.#o.log(`terminal session ${row.sessionId} on ${row.deviceId} (${row.operator}): ended by ${by}${answer.code === SessionCloseCode.Ended ? '' : ` (already over: ${answer.message})`}`);
    await this.gone(row.sessionId);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
