/** `devicestreams device enroll-token` — a one-use token and the line that installs a device with it. */
import { isPattern, parseMap, parseTag, parseTtl, serviceName, type EnrollmentTokenCreated } from '../../shared/enrollment.js';
import { createEnrollmentToken } from '../../server/sdk/enrollment-client.js';
import type { ServiceClient } from '../../server/sdk/service-client.js';
import { CliError } from '../args.js';

export const ENROLL_TOKEN_FLAGS = {
  tag: { type: 'string', multiple: true },
  map: { type: 'string', multiple: true },
  service: { type: 'string', multiple: true },
  ttl: { type: 'string' },
} as const;

export const ENROLL_TOKEN_HELP = `  enroll-token ID|PATTERN
                        a one-use token that installs and registers a device; prints it,
                        its expiry and, as the last line, the command to paste on the device.
                        A PATTERN (with *, e.g. sensor-*) lets the device register under its
                        host name, which must match. The key never leaves the hub but over TLS.
    --tag KEY=VALUE       a tag the device gets (repeatable)
    --service shell|files the kit's terminal or file server (repeatable)
    --map NAME=HOST:PORT  a TCP service on the device, e.g. ssh=127.0.0.1:22 (repeatable)
    --ttl DURATION        how long the token is good for: 90s, 30m, 1h (default), at most 24h`;

export interface EnrollTokenValues {
  tag?: string[] | undefined;
  map?: string[] | undefined;
  service?: string[] | undefined;
  ttl?: string | undefined;
}

/** True when any of the enroll-token flags was given (they belong to that action only). */
export function hasEnrollTokenFlags(v: EnrollTokenValues): boolean {
  return v.tag !== undefined || v.map !== undefined || v.service !== undefined || v.ttl !== undefined;
}

/** The request the flags describe; a usage error naming the flag for anything wrong. */
export function tokenRequest(target: string, v: EnrollTokenValues): { target: string; tags: Record<string, string>; maps: string[]; ttlSeconds: number } {
  const tags: Record<string, string> = {};
  for (const t of v.tag ?? []) {
    const r = parseTag(t);
    if (!r.ok) throw new CliError(`--tag: ${r.error}`, 2);
    tags[r.value[0]] = r.value[1];
  }
  const maps: string[] = [];
  for (const s of v.service ?? []) {
    if (s !== 'shell' && s !== 'files') throw new CliError(`--service "${s}": the kit's services are shell and files; map others with --map NAME=HOST:PORT`, 2);
    maps.push(s);
  }
  for (const m of v.map ?? []) {
    const r = parseMap(m);
    if (!r.ok) throw new CliError(`--map: ${r.error}`, 2);
    maps.push(r.value);
  }
  const names = maps.map(serviceName);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new CliError(`service "${twice}" is given twice`, 2);
  let ttlSeconds = 3600;
  if (v.ttl !== undefined) {
    const r = parseTtl(v.ttl);
    if (!r.ok) throw new CliError(`--ttl: ${r.error}`, 2);
    ttlSeconds = r.value;
  }
  return { target, tags, maps, ttlSeconds };
}

function minutes(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/** Makes the token and prints it; the install command is the last line (scripts take `tail -n1`). */
export async function enrollToken(service: ServiceClient, spec: ReturnType<typeof tokenRequest>, json: boolean): Promise<void> {
  const target = spec.target;
  const t: EnrollmentTokenCreated = await createEnrollmentToken(service, spec);
  if (json) {
    process.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
    return;
  }
  const who = isPattern(target) ? `a device named ${target} (it registers under its host name)` : `device ${target}`;
  const lines = [
    `enrollment token for ${who}, good for one use until ${t.expiresAt} (${minutes(Date.parse(t.expiresAt) - Date.now())}):`,
    `  ${t.token}`,
    `tags: ${Object.entries(t.tags).map(([k, val]) => `${k}=${val}`).join(', ') || 'none'}`,
    `services: ${t.maps.join(', ') || 'none (add --service shell or --map NAME=HOST:PORT)'}`,
    'on the device, as root (add --prefix DIR --no-systemd to install elsewhere without a service), paste:',
    t.installCommand,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
