/**
 * The console's long-lived sockets (terminals, live watches), each tied to the login session and
 * the operator account and role it was opened under. A socket must not outlive the access that
 * opened it: logout ends the session's sockets; a role change, a password reset or the deletion of
 * the account ends all of that operator's sockets at once. Changes made where this process cannot
 * see them (the `operator` CLI, another console node) are caught by a re-check of every socket's
 * session and account on a short timer.
 */
import type { Role } from '../../shared/console-api.js';
import { ConsoleCloseCode, type ConsoleCloseCodeValue } from '../../shared/console-protocol.js';

/** One open socket and how to end it with a code and a sentence for the operator. */
export interface TrackedSocket {
  sessionKey: string;
  operatorId: string;
  /** The role the operator had when the socket was opened. */
  role: Role;
  close(code: ConsoleCloseCodeValue, message: string): void;
}

export interface SessionSocketsOptions {
  /** Is this login session still live? */
  sessionLive: (sessionKey: string) => Promise<boolean>;
  /** The operator's role now, or undefined when the account is gone. */
  roleOf: (operatorId: string) => Promise<Role | undefined>;
  /** How often every socket's session and account are checked again. Default 2 s. */
  recheckMs?: number;
  /** Passes a revocation on to the other nodes of a cluster (they end their sockets of it too). */
  broadcast?: (r: { operatorId: string; message: string } | { sessionKey: string; message: string }) => void;
  log: (line: string) => void;
}

export class SessionSockets {
  readonly #o: SessionSocketsOptions;
  readonly #sockets = new Set<TrackedSocket>();
  readonly #timer: NodeJS.Timeout;
  #checking = false;

  constructor(o: SessionSocketsOptions) {
    this.#o = o;
    this.#timer = setInterval(() => {
      if (this.#checking) return;
      this.#checking = true;
      this.recheck()
        .catch((err: unknown) => o.log(`console: could not re-check open terminals: ${String(err)}`))
        .finally(() => {
          this.#checking = false;
        });
    }, o.recheckMs ?? 2000);
    this.#timer.unref();
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Tracks a socket until the returned function is called (call it when the socket closes). */
  track(s: TrackedSocket): () => void {
    this.#sockets.add(s);
    return () => this.#sockets.delete(s);
  }

  #end(s: TrackedSocket, code: ConsoleCloseCodeValue, message: string): void {
    this.#sockets.delete(s);
    s.close(code, message);
  }

  /** Ends every socket of one login session (logout), here and on every other node. */
  closeSession(sessionKey: string, code: ConsoleCloseCodeValue, message: string): void {
    for (const s of [...this.#sockets]) if (s.sessionKey === sessionKey) this.#end(s, code, message);
    this.#o.broadcast?.({ sessionKey, message });
  }

  /** Ends every socket of one operator (role changed, password reset, account deleted), here and on every other node. */
  closeOperator(operatorId: string, message: string): number {
    this.#o.broadcast?.({ operatorId, message });
    return this.#closeOperatorHere(operatorId, message);
  }

  /** Applies a revocation another node broadcast. */
  applyRevoke(r: { operatorId: string; message: string } | { sessionKey: string; message: string }): void {
    if ('operatorId' in r) this.#closeOperatorHere(r.operatorId, r.message);
    else for (const s of [...this.#sockets]) if (s.sessionKey === r.sessionKey) this.#end(s, ConsoleCloseCode.LoggedOut, r.message);
  }

  #closeOperatorHere(operatorId: string, message: string): number {
    let n = 0;
    for (const s of [...this.#sockets]) {
      if (s.operatorId !== operatorId) continue;
      this.#end(s, ConsoleCloseCode.Revoked, message);
      n += 1;
    }
    return n;
  }

  /** Ends the sockets whose session has ended or whose operator's account changed. */
  async recheck(): Promise<void> {
    const roles = new Map<string, Role | undefined>();
    const live = new Map<string, boolean>();
    for (const s of [...this.#sockets]) {
      if (!roles.has(s.operatorId)) roles.set(s.operatorId, await this.#o.roleOf(s.operatorId));
      if (!live.has(s.sessionKey)) live.set(s.sessionKey, await this.#o.sessionLive(s.sessionKey));
      if (!this.#sockets.has(s)) continue;
      const role = roles.get(s.operatorId);
      if (role === undefined) this.#end(s, ConsoleCloseCode.Revoked, 'Your account was removed.');
      else if (role !== s.role) this.#end(s, ConsoleCloseCode.Revoked, `Your role changed to ${role}; open the session again if it still allows it.`);
      else if (live.get(s.sessionKey) !== true) this.#end(s, ConsoleCloseCode.LoggedOut, 'Your login session ended.');
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#sockets.clear();
  }
}
