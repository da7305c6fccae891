/** What the hub's route handlers share. */
import type { Store } from '../store/store.js';
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
  log: (line: string) => void;
}
