/** Prometheus metrics of one hub instance (its own registry, so tests can run several hubs). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HubMetrics {
  registry: Registry;
  connectedDevices: Gauge;
  streamsActive: Gauge<'state'>;
  streamsTotal: Counter<'result'>;
  streamBytes: Counter<'direction'>;
  handshakeSeconds: Histogram;
  /** Counts the in-process streaming endpoint's open streams and sockets (`devicestreams_gateway_sockets`). */
  watchGateway(gateway: { readonly sockets: number; readonly openStreams: number }): void;
}

export type StreamCounts = Record<'pending' | 'accepted', number>;

/**
 * `countStreams` (the streams this node is setting up) is read at scrape time; open streams are
 * counted at this node's streaming endpoint once `watchGateway` names it. `labels` go on every
 * metric (a cluster node's id), so each node's scrape says what that node holds.
 */
export function createHubMetrics(countStreams: () => StreamCounts, labels: Record<string, string> = {}): HubMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'devicestreams_process_' });
  let gatewayRef: { readonly sockets: number; readonly openStreams: number } | undefined;
  return {
    registry,
    connectedDevices: new Gauge({ name: 'devicestreams_connected_devices', help: 'Devices with an open control channel', registers: [registry] }),
    streamsActive: new Gauge({
      name: 'devicestreams_streams_active',
      help: 'Streams now in each state (pending: waiting for the device; accepted: waiting for both sides; open: carrying bytes)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const c = countStreams();
        this.set({ state: 'pending' }, c.pending);
        this.set({ state: 'accepted' }, c.accepted);
        this.set({ state: 'open' }, gatewayRef?.openStreams ?? 0);
      },
    }),
    streamsTotal: new Counter({
      name: 'devicestreams_streams_total',
      help: 'Stream initiations by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    streamBytes: new Counter({
      name: 'devicestreams_stream_bytes_total',
      help: 'Bytes carried by ended streams, by direction',
      labelNames: ['direction'],
      registers: [registry],
    }),
    handshakeSeconds: new Histogram({
      name: 'devicestreams_stream_handshake_seconds',
      help: 'From initiation to both sides connected',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    watchGateway(gateway) {
      gatewayRef = gateway;
      new Gauge({
        name: 'devicestreams_gateway_sockets',
        help: 'Stream-side WebSockets the streaming endpoint holds (waiting for a peer or bridged)',
        registers: [registry],
        collect() {
          this.set(gateway.sockets);
        },
      });
    },
  };
}
