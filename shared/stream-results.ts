/**
 * How a stream's initiation ended, as the stream log records it (ARCHITECTURE.md, the stream log):
 * the hub stores them, the CLI and the console filter by them. Browser-safe.
 */
export const STREAM_RESULTS = ['accepted', 'rejected', 'deviceNotFound', 'deviceOffline', 'responseTimeout', 'handshakeTimeout', 'throttled', 'hubRestart', 'nodeLost'] as const;

export type StreamResult = (typeof STREAM_RESULTS)[number];
