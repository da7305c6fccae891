// Types of scripts/build-device.js for the TypeScript that imports it (its tests).
/** What the bundle is made of (paths in the checkout): a change under any of these makes the kit stale. */
export const SOURCES: readonly string[];
/** The oldest Node the kit runs on. */
export const MIN_NODE: string;
/** Modules left out of the bundle. */
export const EXTERNAL: readonly string[];
/** The Linux architectures the kit is built for. */
export const ARCHES: readonly string[];
/**
 * True when the kit of any of `arches` is missing, or kit.json is older than a source of the kit
 * (`.test.ts` files and node_modules aside).
 */
export function kitIsStale(arches?: readonly string[], dirs?: { root: string; out: string }): boolean;
/** What kit.json says of one architecture's kit. */
export interface KitFile {
  arch: string;
  file: string;
  sha256: string;
  size: number;
  unpackedSize: number;
}
/** Builds the kit for `arches` into dist/device-kit. */
export function buildDeviceKit(o?: { arches?: readonly string[]; log?: (line: string) => void }): Promise<{ version: string; kits: Record<string, KitFile> }>;
