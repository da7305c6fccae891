/**
 * The error catalogue: every failure a caller can meet has a stable numeric code. As in Azure IoT
 * Hub, the HTTP status is the code's first three digits (404103 → 404), so a client can branch on
 * either. Browser-safe: no Node imports.
 */

export const ErrorCode = {
  /** A request body or field did not validate; the message names the field. */
  InvalidRequest: 400001,
  /** A path or header argument (device id, stream name, timeout header) is malformed. */
  ArgumentInvalid: 400004,
  /** The request carried no credentials. */
  MissingCredentials: 401001,
  /** The credentials are malformed or their signature does not verify. */
  Unauthorized: 401002,
  /** The token has expired (or expires further ahead than the hub allows). */
  TokenExpired: 401003,
  /** The token is valid but for another resource (hub, device or stream). */
  WrongScope: 401004,
  /** The text is not an enrollment token this hub made (malformed, unknown or forged). */
  EnrollmentTokenInvalid: 401005,
  /** The enrollment token's time ran out before it was used; an admin creates a new one. */
  EnrollmentTokenExpired: 401006,
  /** The policy behind the token lacks the permission this call needs. */
  Forbidden: 403001,
  /** The device exists but is disabled. */
  DeviceDisabled: 403002,
  /** The enrollment token does not allow this device (another id, not its pattern, or the device is in use). */
  EnrollmentRefused: 403003,
  /** No route matches the request. */
  NotFound: 404000,
  /** The device is not in the registry. */
  DeviceNotFound: 404001,
  /** The stream does not exist (or has already ended). */
  StreamNotFound: 404002,
  /** The device did not connect within the connect timeout. */
  DeviceNotOnline: 404103,
  /** The method is not allowed on this route. */
  MethodNotAllowed: 405000,
  /** A device with this id already exists. */
  DeviceAlreadyExists: 409001,
  /** The enrollment token was used already (each is good for one device, once). */
  EnrollmentTokenUsed: 409002,
  /** The request body did not arrive in time (a small body within its deadline, a large one without a long pause). */
  RequestBodyTimeout: 408001,
  /** The If-Match etag does not match the stored one. */
  PreconditionFailed: 412002,
  /** The request body is larger than the hub accepts. */
  PayloadTooLarge: 413001,
  /** The request's headers are larger than the hub reads (16 KiB in all). */
  HeadersTooLarge: 431001,
  /** Too many concurrent streams for this device. */
  ThrottledDevice: 429001,
  /** Too many concurrent streams on this hub. */
  ThrottledHub: 429002,
  /** Too many stream initiations per second. */
  ThrottledRate: 429003,
  /** Too many failed enrollments from this address; wait for Retry-After. */
  ThrottledEnroll: 429004,
  /** Too many downloads of the install script or the device kit from this address; wait for Retry-After. */
  ThrottledDownload: 429005,
  /** An unexpected failure inside the hub; the tracking id finds it in the log. */
  InternalError: 500001,
  /** A client's HTTP proxy refused the tunnel to the hub (authentication, policy); raised on the client's side. */
  ProxyRefused: 502001,
  /** This process does not run the role that serves the request. */
  RoleUnavailable: 503001,
  /** The store (the cluster's database) cannot be reached right now; retry shortly. */
  StoreUnavailable: 503002,
  /** The cluster's message bus cannot be reached right now; retry shortly. */
  BusUnavailable: 503003,
  /** The store refused this node's credentials (the user, password or database of its URL): the node's configuration needs fixing. */
  StoreRefused: 503004,
  /** The device did not answer the stream request within the response timeout. */
  DeviceResponseTimeout: 504101,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status that goes with an error code: its first three digits. */
export function statusOf(code: number): number {
  return Math.floor(code / 1000);
}

/** The JSON body of every error answer, in Azure IoT Hub's shape. */
export interface ErrorBody {
  errorCode: number;
  trackingId: string;
  message: string;
  timestampUtc: string;
  /** `ErrorCode:{Name};{message}`: the form Azure's own clients parse. */
  Message?: string;
  ExceptionMessage?: string;
}

/** The catalogue name of a code (`DeviceNotFound`), or `Error` for unknown ones. */
export function errorName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name;
  return 'Error';
}

/** An error with a stable code; thrown anywhere, turned into an answer at the edge. */
export class DsError extends Error {
  readonly code: ErrorCodeValue;
  /** Seconds to wait before trying again (429 answers). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCodeValue, message: string, options?: { retryAfterSeconds?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DsError';
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  get status(): number {
    return statusOf(this.code);
  }
}

/** True for a value that looks like an error body from a hub. */
export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.errorCode === 'number' && typeof v.message === 'string';
}
