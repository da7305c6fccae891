/**
 * Node gives every TLS connection a server accepts its own copy of the server's ALPN list (a few
 * bytes cut from the shared 8 KiB Buffer pool) and keeps it for the connection's life, though it
 * is read only while the connection is set up. A slice keeps its whole pool slab alive: each
 * long-lived device channel so pinned a slab that other traffic (the store's, the bus's) had used
 * up meanwhile — 1.4 KiB a device on a cluster node, by heap snapshot. This drops the copy once
 * the handshake is done (a 'secureConnection' listener).
 */
export function dropAlpnCopy(socket: unknown): void {
  const options = (socket as { _tlsOptions?: { ALPNProtocols?: unknown } } | null)?._tlsOptions;
  if (options !== undefined) options.ALPNProtocols = undefined;
}
