/** What the hub's route handlers share. */
import type { StreamRecord, Store } from '../store/store.js';
import type { StreamClaims } from '../../shared/stream-token.js';
import type { Authenticator } from './auth.js';
import type { DeviceConnections } from './device-connections.js';
import type { DeviceFeed } from './device-feed.js';
import type { HubMetrics } from './metrics.js';
import type { StreamBroker } from './stream-broker.js';

export interface HubContext {
  store: Store;
  auth: Authenticator;
  connections: DeviceConnections;
  broker: StreamBroker;
  metrics: HubMetrics;
  /** Which devices changed, for clients that show the fleet (GET /registry/events). */
  feed: DeviceFeed;
  /** https URLs of the streaming endpoints, for GET /devicestreams. */
  streamingEndpoints: () => string[];
  /** Bearer key a separate streaming-endpoint process uses to report stream events. */
  gatewayReportKey: Buffer;
  /**
   * Drops a device's control channel wherever it is, with `code` and `reason`; with `streamReason`
   * also ends its live streams (device disabled or deleted).
   */
  revoke(deviceId: string, code: number, reason: string, streamReason: string | undefined): Promise<void>;
  /** The endpoint a resumed stream meets at: its own if that node is alive, else another (moved in the store). */
  resumeGateway(stream: StreamRecord): Promise<{ node: string; url: string }>;
  /** Signs a stream token with the hub's secret. */
  signToken(claims: Omit<StreamClaims, 'jti'>): string;
  log: (line: string) => void;
}
