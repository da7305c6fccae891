/**
 * A stream's byte counts come from the streaming endpoint that carried it, leg by leg: each report
 * gives the stream's totals as that endpoint knows them (a resumed pair starts from the offsets its
 * sides said they had). A record keeps the largest totals it was told, so a report that never came
 * (an endpoint SIGKILLed) costs nothing once a later leg reports, and a repeated one adds nothing.
 */
import type { StreamBytes } from './records.js';

/** How much the counts grow when `reported` totals meet the `stored` ones. */
export function growth(stored: { bytes_to_device: number | string; bytes_from_device: number | string }, reported: StreamBytes): StreamBytes {
  return {
    bytesToDevice: Math.max(0, reported.bytesToDevice - Number(stored.bytes_to_device)),
    bytesFromDevice: Math.max(0, reported.bytesFromDevice - Number(stored.bytes_from_device)),
  };
}
