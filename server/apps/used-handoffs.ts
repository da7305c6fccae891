/**
 * Makes a handoff token good once. One node remembers the ids it has redeemed until they expire
 * (bounded); in a cluster the token may come back through the balancer to any node, so the claim is
 * also a `create` in a NATS key-value bucket, which exactly one caller wins. Keys outlive the
 * tokens (120 s against 60 s), so a key that expires by max age (which NATS 2.9 does silently) can
 * only free the id of a token that no longer verifies.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ExpiringSet } from '../gateway/used-tokens.js';
import { HANDOFF_TTL_MS } from './app-tokens.js';

const BUCKET = 'ds-app-handoffs';

export class UsedHandoffs {
  readonly #local = new ExpiringSet(20_000);
  readonly #nc: NatsConnection | undefined;
  #kv: Promise<KV> | undefined;

  constructor(nc?: NatsConnection) {
    this.#nc = nc;
  }

  /**
   * `claimed` for the first claim of `jti` anywhere; `used` when it was claimed before; `unknown`
   * when the cluster's bus cannot say right now (refused too: that is the safe answer).
   */
  async claim(jti: string, exp: number): Promise<'claimed' | 'used' | 'unknown'> {
    if (!this.#local.add(jti, exp)) return 'used';
    if (this.#nc === undefined) return 'claimed';
    try {
      this.#kv ??= new Kvm(this.#nc).create(BUCKET, { history: 1, ttl: 2 * HANDOFF_TTL_MS, storage: 'file' });
      // Key names allow [-/_=.a-zA-Z0-9]; a base64url id fits.
      await (await this.#kv).create(jti, '');
      return 'claimed';
    } catch (err) {
      // JetStream's answer when the key exists: "wrong last sequence" (another node took it first).
      if (err instanceof Error && /wrong last sequence/i.test(err.message)) return 'used';
      this.#kv = undefined;
      return 'unknown';
    }
  }
}
