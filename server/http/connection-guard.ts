/**
 * Caps the connections that have not yet finished their TLS handshake and sent their first request
 * headers ("unready"), per client address and in all. Such a connection costs memory and a TLS
 * handshake's CPU while proving nothing, so a peer opening them by the thousand could starve real
 * clients. Beyond a cap a new connection is closed at once; one that sent its headers no longer
 * counts (keep-alive idleness is bounded by the server's keep-alive timeout instead).
 *
 * Behind a TCP load balancer every connection comes from the balancer's address: give the
 * per-address cap the same value as the total there.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Unready connections from one address. */
  maxUnreadyPerAddress: number;
  /** Unready connections in all. */
  maxUnready: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({ maxUnreadyPerAddress: 512, maxUnready: 4096 });

function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? 0}`;
}

/** Installs the caps on `server` (HTTP or HTTPS); `log` hears about the first refusal per address and minute. */
export function guardConnections(server: Server, limits: ConnectionLimits, log: (line: string) => void): { readonly unready: number } {
  const unready = new Set<string>();
  const perAddress = new Map<string, number>();
  const lastLogged = new Map<string, number>();

  const settle = (key: string, address: string): void => {
    if (!unready.delete(key)) return;
    const n = (perAddress.get(address) ?? 1) - 1;
    if (n <= 0) perAddress.delete(address);
    else perAddress.set(address, n);
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '?';
    const n = perAddress.get(address) ?? 0;
    if (n >= limits.maxUnreadyPerAddress || unready.size >= limits.maxUnready) {
      socket.destroy();
      const now = Date.now();
      if ((lastLogged.get(address) ?? 0) < now - 60_000) {
        if (lastLogged.size > 1000) lastLogged.clear();
        lastLogged.set(address, now);
        log(`refusing connections from ${address}: ${n >= limits.maxUnreadyPerAddress ? `${n} of its connections` : `${unready.size} connections in all`} have not finished TLS and sent a request yet`);
      }
      return;
    }
    const key = keyOf(socket);
    unready.add(key);
    perAddress.set(address, n + 1);
    socket.once('close', () => settle(key, address));
  });
  const ready = (req: { socket: Socket }): void => settle(keyOf(req.socket), req.socket.remoteAddress ?? '?');
  server.on('request', ready);
  server.on('upgrade', ready);
  return {
    get unready() {
      return unready.size;
    },
  };
}
