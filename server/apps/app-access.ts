/**
 * Whether an app credential still stands: its console session is live and its operator still has
 * the role it was issued under (operator or admin). Every request asks; answers are kept for a
 * couple of seconds so a page's burst of requests costs one lookup, which is also how soon a
 * logout, role change or removal made on another node or with the CLI takes effect.
 */
import type { Role } from '../../shared/console-api.js';
import type { AppGrant } from './app-tokens.js';

/** The roles that may open device apps. */
export const APP_ROLES: readonly Role[] = ['admin', 'operator'];

export type AppAccessVerdict = 'ok' | 'sessionEnded' | 'roleChanged';

export interface AppAccessOptions {
  sessionLive: (sessionKey: string) => Promise<boolean>;
  roleOf: (operatorId: string) => Promise<Role | undefined>;
  /** How long an answer is reused (default 2 s). */
  cacheMs?: number;
}

export class AppAccess {
  readonly #o: AppAccessOptions;
  readonly #cache = new Map<string, { at: number; verdict: AppAccessVerdict }>();

  constructor(o: AppAccessOptions) {
    this.#o = o;
  }

  async check(g: AppGrant, now = Date.now()): Promise<AppAccessVerdict> {
    const key = `${g.sessionKey}\n${g.operatorId}\n${g.role}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && now - hit.at < (this.#o.cacheMs ?? 2000)) return hit.verdict;
    const verdict: AppAccessVerdict = !APP_ROLES.includes(g.role) ? 'roleChanged'
      : !(await this.#o.sessionLive(g.sessionKey)) ? 'sessionEnded'
      : (await this.#o.roleOf(g.operatorId)) !== g.role ? 'roleChanged' : 'ok';
    // Bounded: a full cache starts again rather than growing with every session ever seen.
    if (this.#cache.size >= 4096) this.#cache.clear();
    this.#cache.set(key, { at: now, verdict });
    return verdict;
  }
}
