/** What each benchmark returns: table rows (formatted for people) and raw figures (for the JSON). */

export type Status = 'met' | 'MISSED' | 'info' | 'FAILED';

export interface Row {
  /** Benchmark name, as given to --only. */
  bench: string;
  /** What this row measures, e.g. "service → device". */
  metric: string;
  /** The project's figure, formatted. */
  project: string;
  /** The comparison's figure, formatted ('' when there is none). */
  comparison: string;
  /** project / comparison, formatted ('' when there is none). */
  ratio: string;
  /** The target in words, e.g. "≥ 1.0× ssh". */
  target: string;
  status: Status;
}

export interface BenchResult {
  name: string;
  /** What was compared with what, one line. */
  description: string;
  rows: Row[];
  /** Unformatted numbers (bytes, ms, counts) for the JSON file. */
  raw: Record<string, unknown>;
  durationSeconds: number;
  error?: string;
}

/**
 * One phase of a benchmark that runs several (cluster): its rows and raw figures, and the spans of
 * the monotonic clock (`nowMs()`) it measured in, to cut CPU profiles by phase.
 */
export interface PhaseResult {
  rows: Row[];
  raw: Record<string, unknown>;
  windows?: Record<string, { fromMs: number; toMs: number }>;
}

export interface Sizes {
  quick: boolean;
  rounds: number;
  bulkBytes: number;
  echoSamples: number;
  setups: number;
  concurrentStreams: number;
  concurrentBytes: number;
  idleDevices: number;
  slowSeconds: number;
  slowRateBytesPerSecond: number;
  /** Random bytes fed to base64 in the terminal flood (base64 makes 4/3 of it, plus line ends). */
  floodRawBytes: number;
  /** resume: hub restarts under an open resumable stream (resume time samples). */
  resumeRestarts: number;
  /** history: stream records seeded into the log the console's history page reads. */
  historyRecords: number;
  /** cluster: idle devices connected through the balancer (spread over three nodes). */
  clusterIdleDevices: number;
  /** cluster: streams initiated at once through the balancer. */
  clusterStreams: number;
  /** cluster: stream setups on the device's node, and as many across nodes. */
  clusterSetups: number;
  /** cluster: devices seeded into the store for the registry pages and searches. */
  clusterRegistryDevices: number;
  /** cluster: rounds of registry calls (a page and a search, hub REST and console, per round). */
  clusterQueries: number;
}

export interface BenchContext {
  sizes: Sizes;
  /** Run the hub under `node --cpu-prof` and summarise its hot spots (slower; for diagnosis). */
  profile: boolean;
  /** Where CPU profiles go when profiling. */
  profileDir: string;
}

export function status(ok: boolean): Status {
  return ok ? 'met' : 'MISSED';
}
