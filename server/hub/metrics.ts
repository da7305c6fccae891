/** Prometheus metrics of one hub instance (its own registry, so tests can run several hubs). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HubMetrics {
  registry: Registry;
  connectedDevices: Gauge;
  streamsActive: Gauge<'state'>;
  streamsTotal: Counter<'result'>;
  streamBytes: Counter<'direction'>;
  handshakeSeconds: Histogram;
  /** Adds the in-process streaming endpoint's socket count (`devicestreams_gateway_sockets`). */
  watchGateway(gateway: { readonly sockets: number }): void;
}

export type StreamCounts = Record<'pending' | 'accepted' | 'open', number>;

/** `countStreams` is read at scrape time. */
export function createHubMetrics(countStreams: () => StreamCounts): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'devicestreams_process_' });
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
        for (const state of ['pending', 'accepted', 'open'] as const) this.set({ state }, c[state]);
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
