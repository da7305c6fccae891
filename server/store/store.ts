/**
 * The store behind one interface: every table belongs to a repository here, every method returns a
 * promise, and each engine implements all of them — SQLite (better-sqlite3, WAL) in the data
 * directory for a single hub, PostgreSQL for a cluster. `openStore` picks the engine from its
 * argument. One test suite (test/store.test.ts) runs against both.
 */
import type { Readable } from 'node:stream';
import type { Role } from '../../shared/console-api.js';
import type {
  DeviceCounts,
  DeviceQuery,
  DeviceRecord,
  DeviceWrite,
  EnrollmentTokenRecord,
  NewEnrollmentToken,
  NewRecording,
  NewStream,
  Operator,
  OperatorWithHash,
  PolicyRecord,
  RecordingRow,
  Session,
  StreamEnd,
  StreamBytes,
  StreamInterruption,
  TimedOutStream,
  StreamQuery,
  StreamRecord,
  StreamResult,
} from './records.js';
import type { TerminalSessionRepository } from './terminal-sessions.js';

export * from './records.js';
export * from './terminal-sessions.js';

/** A device's control channel as a node holds it: since when (ms since the epoch). */
export interface HeldConnection {
  deviceId: string;
  since: number;
}

export interface DeviceRepository {
  get(deviceId: string): Promise<DeviceRecord | undefined>;
  /** A page in device-id order, filtered. */
  page(q: DeviceQuery): Promise<DeviceRecord[]>;
  counts(): Promise<DeviceCounts>;
  /** Inserts a device; undefined when the id is taken. */
  create(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined>;
  /** Replaces the writable fields (a new etag); undefined when there is no such device. */
  update(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined>;
  delete(deviceId: string): Promise<boolean>;
  /** Records activity (a stream). */
  touch(deviceId: string, at: number): Promise<void>;
  /**
   * The device's control channel, opened at `at`, is now held by `node` — unless another node holds
   * it by a connection that began later (a node's write can arrive after another node's for the
   * device's next channel; it is then ignored, and that node's disconnect, which names it, changes
   * nothing). Only across nodes: a node's own clock stepping back does not hide its reconnections.
   * Nodes' clocks order connections across nodes, so they must agree far more closely than the
   * quickest reconnection (an agent's first retry comes after 50 ms or more, then its handshake):
   * NTP keeps them within milliseconds. False when the write was ignored (nothing changed, or no
   * such device).
   */
  connected(deviceId: string, node: string, at: number): Promise<boolean>;
  /** `node` no longer holds the device (a channel another node took over since is left alone). */
  disconnected(deviceId: string, node: string, at: number): Promise<void>;
  /** Marks every device `node` held as connected nowhere (its restart or death); returns how many. */
  releaseNode(node: string, at: number): Promise<number>;
  /** The nodes that hold devices now (to find the devices of nodes that are gone). */
  holdingNodes(): Promise<string[]>;
  /**
   * Makes the store agree with what `node` held at `at`: exactly the devices of `held` connected to
   * it (after writes that failed while the store was unreachable). Records whose connection state
   * changed at or after `at` are newer than that list and are left alone: a device that connected or
   * left while the correction was on its way keeps what its own presence write said. A device another
   * node holds for a newer connection (`connected_since` after the channel's `since`) is not claimed
   * either: that channel is a stale one the device has already replaced there. One that no node holds
   * is claimed whatever the times, as `connected()` does (so nodes whose clocks disagree still set it
   * right). A claimed record says the device connected when its channel did (`since`), as the
   * connection's own write would have — unless the record changed after that (a disconnection
   * elsewhere): then the correction's time, so that the time the guard above reads never goes
   * back. Returns how many rows it had to correct.
   */
  syncNode(node: string, held: readonly HeldConnection[], at: number): Promise<number>;
  /** Records what the agent said in its hello (its name, the stream names it serves or null when it did not say); true when either changed. */
  setAgent(deviceId: string, agent: string, services: readonly string[] | null): Promise<boolean>;
  /**
   * Records the agent instance of the device's latest hello; resolves with the one it replaced (null:
   * none before), or undefined when nothing changed (the same instance, or no such device).
   */
  swapInstance(deviceId: string, instance: string): Promise<string | null | undefined>;
}

/** One-use enrollment tokens (server/hub/enrollment.ts). */
export interface EnrollmentRepository {
  create(t: NewEnrollmentToken): Promise<void>;
  get(id: string): Promise<EnrollmentTokenRecord | undefined>;
  /**
   * Marks the token used by `deviceId` at `at` if it is unused and unexpired then, in one atomic
   * step: of two uses at once (on any node), exactly one gets the record, the other undefined.
   */
  consume(id: string, deviceId: string, at: number): Promise<EnrollmentTokenRecord | undefined>;
  /** Undoes `consume` by `deviceId` (the device could not be registered after all). */
  release(id: string, deviceId: string): Promise<void>;
  /** Unused tokens that have not expired at `at` (for `store migrate`'s summary). */
  countLive(at: number): Promise<number>;
  /** Drops tokens that expired before `before` (used or not); returns how many. */
  deleteExpired(before: number): Promise<number>;
}

export interface PolicyRepository {
  /** Creates the default policies that are missing; returns the names created. */
  ensureDefaults(): Promise<string[]>;
  get(name: string): Promise<PolicyRecord | undefined>;
  list(): Promise<PolicyRecord[]>;
}

export interface StreamRepository {
  create(s: NewStream): Promise<void>;
  get(id: string): Promise<StreamRecord | undefined>;
  /**
   * Records the answer to an initiation; a stream that is not accepted ends here. With
   * `deviceAnsweredAt` (the device itself answered, accepting or rejecting) that time also becomes
   * the device's last activity, in the same statement.
   */
  answer(id: string, result: StreamResult, reason: string | null, at: number, gatewayNode?: string, deviceAnsweredAt?: number): Promise<void>;
  /**
   * Both sides are connected. `v2` false: at least one side speaks only v1, so the stream cannot
   * resume (a lost pair ends it) whatever its initiator asked for.
   */
  opened(id: string, at: number, v2?: boolean): Promise<void>;
  /** The accepted stream's sides never both connected; false when it had ended already. */
  handshakeTimedOut(id: string, at: number): Promise<boolean>;
  /**
   * The stream ended; the first report wins (undefined for later ones). Its byte counts are the
   * stream's totals as the reporting endpoint knows them: the record keeps the larger of those and
   * what it had (an earlier leg's report), and the answer says how much this call added.
   */
  ended(id: string, end: StreamEnd, at: number): Promise<StreamBytes | undefined>;
  /**
   * Ends what `node` left live: streams it took the initiation of and had not yet handed to a
   * streaming endpoint, and streams its endpoint carried. `result` is hubRestart (the node itself,
   * starting again) or nodeLost (a survivor reaping a dead node). Returns how many.
   */
  closeNodeStreams(node: string, result: 'hubRestart' | 'nodeLost', at: number): Promise<number>;
  /**
   * Ends streams still pending or accepted that were created before `createdBefore` (their
   * handshake deadline long past: whoever initiated them is gone). Returns how many.
   */
  endStale(createdBefore: number, at: number): Promise<number>;
  /** Nodes that have streams not yet ended. */
  liveNodes(): Promise<string[]>;
  /** Streams not yet ended, in all or for one device. */
  countLive(deviceId?: string): Promise<number>;
  /** Streams not yet ended of one device and in all, read together (a cluster's stream limits). */
  liveCounts(deviceId: string): Promise<{ device: number; all: number }>;
  /** Streams not yet ended, of one device or of all. */
  liveFor(deviceId?: string): Promise<StreamRecord[]>;
  /** The SHA-256 of a side's resume key, when the stream is resumable. */
  resumeKeyHash(id: string, side: 'service' | 'device'): Promise<string | undefined>;
  /**
   * A resumable stream lost its connections: it is interrupted from `at` (unless it already is,
   * or it has resumed since `at`: a late report of an old pair), and its counts become at least
   * `totals` (the stream's bytes as the lost pair knew them). The answer says how much the counts
   * grew; undefined when the stream has ended.
   */
  interrupted(id: string, at: number, totals: StreamBytes): Promise<StreamBytes | undefined>;
  /** Both sides are connected again; false when the stream has ended meanwhile (its new pair must go). */
  resumed(id: string, at: number): Promise<boolean>;
  /** Ends the streams interrupted longer than their resume window; returns those this call ended. */
  endResumeTimeouts(now: number): Promise<TimedOutStream[]>;
  /** The interruptions of a stream, oldest first (at most `limit`). */
  interruptionsOf(id: string, limit: number): Promise<StreamInterruption[]>;
  /** Moves a stream to another node's streaming endpoint if it is still on `from`; false if another move won. */
  moveGateway(id: string, from: string | null, to: string): Promise<boolean>;
  /** Newest first. */
  list(q: StreamQuery): Promise<StreamRecord[]>;
}

export interface OperatorRepository {
  count(): Promise<number>;
  get(name: string): Promise<Operator | undefined>;
  getById(id: string): Promise<Operator | undefined>;
  /** With the password hash, for checking a login. */
  getWithHash(name: string): Promise<OperatorWithHash | undefined>;
  list(): Promise<Operator[]>;
  /** Creates an account; false when the name is taken. */
  create(name: string, passwordHash: string, role: Role, at: number): Promise<boolean>;
  setPasswordHash(name: string, passwordHash: string): Promise<boolean>;
  setRole(name: string, role: Role): Promise<boolean>;
  /** Deletes the account and its sessions. */
  delete(name: string): Promise<boolean>;
}

export interface SessionRepository {
  /** Stores a session by the hash of its token; drops expired ones on the way. */
  create(tokenHash: string, operator: string, at: number, expiresAt: number): Promise<void>;
  /** The live session, or undefined. */
  get(tokenHash: string, now: number): Promise<Session | undefined>;
  delete(tokenHash: string): Promise<void>;
  deleteFor(operator: string): Promise<void>;
}

export interface RecordingRepository {
  insert(r: NewRecording): Promise<void>;
  /** Records progress (size, duration) and, when `endedAt` is given, the end. */
  update(streamId: string, p: { size: number; durationMs: number; truncated: boolean; endedAt?: number }): Promise<void>;
  get(streamId: string): Promise<RecordingRow | undefined>;
  /** Rows for many streams at once (history pages). */
  getMany(ids: readonly string[]): Promise<Map<string, RecordingRow>>;
  delete(streamId: string): Promise<boolean>;
  /** Ended recordings that started before `cutoff`, oldest first. */
  olderThan(cutoff: number, limit: number): Promise<RecordingRow[]>;
  /** Recordings `node` was writing and never finished (it stopped mid-session). */
  unfinished(node: string): Promise<RecordingRow[]>;
  /** A finished recording goes on (its terminal session was resumed), written by `node`; undefined when gone. */
  reopen(streamId: string, node: string): Promise<RecordingRow | undefined>;
  setting(name: string): Promise<string | undefined>;
  setSetting(name: string, value: string): Promise<void>;
}

/** Appends a recording's bytes as they come; bounded by the caller (see cast-writer.ts). */
export interface RecordingSink {
  write(chunk: Buffer): void;
  /** Bytes accepted but not yet durable. */
  readonly pending: number;
  /** Set once a write failed; later writes are dropped. */
  readonly failed: boolean;
  /** Makes everything written durable. */
  close(): Promise<void>;
}

/** The content of recordings (asciicast files), wherever this engine keeps them. */
export interface RecordingData {
  create(streamId: string, startedAt: number): RecordingSink;
  /** Appends to an existing recording (a resumed terminal session). */
  append(streamId: string, startedAt: number): RecordingSink;
  /** The whole recording, or undefined when it is gone. */
  read(streamId: string, startedAt: number): Promise<Readable | undefined>;
  /** Bytes stored so far (for a recording whose writer died). */
  size(streamId: string, startedAt: number): Promise<number>;
  delete(streamId: string, startedAt: number): Promise<void>;
}

/** Token buckets every node of a deployment shares (the cluster-wide stream initiation rate). */
export interface RateRepository {
  /**
   * Takes a token from the named bucket, which refills at `perSecond` and holds at most that many;
   * resolves 0 when one was taken, else the seconds until one will be there. Timed by the store's
   * clock, so nodes with different clocks share one bucket fairly.
   */
  take(name: string, perSecond: number): Promise<number>;
}

/** Secrets every node of a deployment shares (the stream-token key, the TLS ticket keys). */
export interface SecretRepository {
  /** The secret `name`, made (random, `bytes` long) by whoever asks first. */
  getOrCreate(name: string, bytes: number): Promise<Buffer>;
  /** Deletes the numbered secrets `<prefix><n>` whose n is below `before`; returns how many. */
  removeNumberedBefore(prefix: string, before: number): Promise<number>;
}

/** Who tries to log in and what came of it, counted across every node (server/bff/login-limiter.ts decides what they allow). */
export interface LoginAttemptRepository {
  /**
   * Holds off every other caller for the same keys (on every node) while `decide` looks at each
   * key's attempt times since `since` (oldest first) and at whether `known` is a known pair at
   * `at`; when it returns 0 the attempt is recorded under every key (as `attempt`, at `at`).
   * Attempts older than `since` and expired known pairs are dropped on the way. Resolves with what
   * `decide` returned.
   */
  begin(o: LoginAttemptBegin): Promise<number>;
  /** Takes the attempt back and makes `known` a known pair until `until`. */
  succeeded(attempt: string, known: KnownLogin, until: number): Promise<void>;
  /** Takes the attempt back alone (it was never checked). */
  withdraw(attempt: string): Promise<void>;
  /** Forgets the attempts under `key` and every known pair of `name`. */
  forget(key: string, name: string): Promise<void>;
}

/** A name and an address it logged in from. */
export interface KnownLogin {
  name: string;
  address: string;
}

export interface LoginAttemptBegin {
  keys: readonly string[];
  since: number;
  known: KnownLogin;
  at: number;
  attempt: string;
  decide: (recent: number[][], known: boolean) => number;
}

export interface Store {
  readonly engine: 'sqlite' | 'postgres';
  /** Where it lives, for logs (a path, or a URL without its password). */
  readonly location: string;
  readonly devices: DeviceRepository;
  readonly policies: PolicyRepository;
  readonly streams: StreamRepository;
  readonly operators: OperatorRepository;
  readonly sessions: SessionRepository;
  readonly recordings: RecordingRepository;
  readonly recordingData: RecordingData;
  readonly secrets: SecretRepository;
  readonly rates: RateRepository;
  readonly terminalSessions: TerminalSessionRepository;
  readonly enrollment: EnrollmentRepository;
  readonly logins: LoginAttemptRepository;
  /** Resolves when the store answers (readiness); rejects with the reason otherwise. */
  ping(): Promise<void>;
  /**
   * Runs `task` only if no other process holds the named cluster-wide lock right now (retention
   * sweeps run once per cluster); resolves false when it was skipped.
   */
  exclusively(name: string, task: () => Promise<void>): Promise<boolean>;
  close(): Promise<void>;
}
