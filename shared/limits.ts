/** Limits and defaults shared by every part. Browser-safe. */

/** Largest payload of one binary frame on a stream bridge. Larger writes are split. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Largest control-channel message. */
export const MAX_CONTROL_MESSAGE_BYTES = 16 * 1024;
/** Largest REST request body. */
export const MAX_REST_BODY_BYTES = 64 * 1024;
/** Initiation → both sides connected must finish within this. */
export const HANDSHAKE_DEADLINE_MS = 60_000;
/** Default and largest value of the two iothub-streaming-*-timeout-in-seconds headers. */
export const DEFAULT_STREAM_TIMEOUT_SECONDS = 60;
export const MAX_STREAM_TIMEOUT_SECONDS = 60;
/** Tolerated clock difference when checking token expiry. */
export const CLOCK_SKEW_SECONDS = 300;
/** Longest SAS token lifetime the hub accepts (beyond this, a token counts as future-dated). */
export const MAX_SAS_LIFETIME_SECONDS = 366 * 24 * 3600;
/** Device ids and stream names: Azure's device id alphabet, at most 128 characters. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;
export const STREAM_NAME_PATTERN = /^[A-Za-z0-9\-._]{1,64}$/;
/** Bridge flow control: pause the source when this much is queued towards the sink. */
export const BRIDGE_HIGH_WATER_BYTES = 1024 * 1024;
export const BRIDGE_LOW_WATER_BYTES = 256 * 1024;
