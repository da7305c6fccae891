/**
 * A node's connection to the cluster's NATS server: it reconnects by itself for as long as the node
 * runs (NATS restarting is an outage, not a reason to exit), says in the log when the bus goes and
 * comes back, and turns a request made while it is down into the typed 503 (`BusUnavailable`).
 */
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DsError, ErrorCode } from '../../shared/errors.js';

export interface Bus {
  readonly nc: NatsConnection;
  /** True while connected (between a disconnect and the reconnect it is false). */
  readonly up: boolean;
  publish(subject: string, data: Uint8Array): void;
  /** A request with a bounded wait; rejects with 503 while the bus is down. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg>;
  /** Calls `handler` for each message; errors it throws are logged, never fatal. */
  subscribe(subject: string, handler: (msg: Msg) => void | Promise<void>): Subscription;
  close(): Promise<void>;
}

/** `nats://host:port` without credentials, for logs. */
export function redactBusUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return 'nats://(unparsable URL)';
  }
}

export async function connectBus(url: string, node: string, log: (line: string) => void): Promise<Bus> {
  const where = redactBusUrl(url);
  let nc: NatsConnection;
  try {
    // noAsyncTraces: the client would otherwise build two Error objects (stack traces) for every
    // request up front, in case it fails; that was 2–3 % of a node's CPU while streams open.
    // Failures still arrive as the same error types, with the stack of where they were noticed.
    nc = await connect({ servers: url, name: `devicestreams ${node}`, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5000, pingInterval: 10_000, noAsyncTraces: true });
  } catch (err) {
    throw new DsError(ErrorCode.BusUnavailable, `cannot reach the bus at ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        up = false;
        log(`bus: lost the connection to ${where}; reconnecting`);
      } else if (s.type === 'reconnect') {
        up = true;
        log(`bus: connected to ${where} again`);
      }
    }
  })();
  const unavailable = (err: unknown): DsError =>
    new DsError(ErrorCode.BusUnavailable, `the bus (${where}) cannot be reached: ${err instanceof Error ? err.message : String(err)}; retry shortly`, { retryAfterSeconds: 2, cause: err });
  return {
    nc,
    get up() {
      return up;
    },
    publish(subject, data) {
      // While disconnected the client buffers a bounded amount and sends it on reconnect.
      nc.publish(subject, data);
    },
    async request(subject, data, timeoutMs) {
      if (!up) throw unavailable(new Error('disconnected'));
      return nc.request(subject, data, { timeout: timeoutMs });
    },
    subscribe(subject, handler) {
      return nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err !== null) {
            log(`bus: subscription ${subject} failed: ${err.message}`);
            return;
          }
          Promise.resolve()
            .then(() => handler(msg))
            .catch((e: unknown) => log(`bus: handling ${subject}: ${e instanceof Error ? e.message : String(e)}`));
        },
      });
    },
    async close() {
      await nc.drain().catch(() => nc.close());
    },
  };
}
