/** The request schemas of enrollment (shared/enrollment.ts), for the hub and the console's server. */
import { z } from 'zod';
import {
  DEFAULT_ENROLLMENT_TTL_SECONDS,
  MAX_ENROLLMENT_MAPS,
  MAX_ENROLLMENT_TAGS,
  MAX_ENROLLMENT_TTL_SECONDS,
  parseMap,
  parseTag,
  serviceName,
  targetOk,
} from './enrollment.js';

const tagsSchema = z
  .record(z.string(), z.string())
  .refine((t) => Object.keys(t).length <= MAX_ENROLLMENT_TAGS, { message: `at most ${MAX_ENROLLMENT_TAGS} tags` })
  .superRefine((t, ctx) => {
    for (const [k, v] of Object.entries(t)) {
      const r = parseTag(`${k}=${v}`);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    }
  });

/** The body of POST /enrollment-tokens. */
export const enrollmentTokenRequestSchema = z.object({
  /** A device id, or a pattern such as `sensor-*`. */
  target: z.string().refine(targetOk, { message: "must be a device id (1-128 letters, digits and -.%_*?!(),:=@$') or a pattern with * and at least one other character" }),
  tags: tagsSchema.default({}),
  maps: z
    .array(z.string().max(300))
    .max(MAX_ENROLLMENT_MAPS)
    .default([])
    .superRefine((maps, ctx) => {
      const names = new Set<string>();
      for (const m of maps) {
        const r = parseMap(m);
        if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
        else if (names.has(serviceName(r.value))) ctx.addIssue({ code: 'custom', message: `service "${serviceName(r.value)}" is given twice` });
        names.add(serviceName(m));
      }
    })
    .transform((maps) => maps.map((m) => { const r = parseMap(m); return r.ok ? r.value : m; })),
  ttlSeconds: z.number().int().min(1).max(MAX_ENROLLMENT_TTL_SECONDS).default(DEFAULT_ENROLLMENT_TTL_SECONDS),
});

/** The body of POST /enroll. */
export const enrollRequestSchema = z.object({
  token: z.string().max(200),
  /** The device's id: required for a pattern token (and must match it), else optional (must equal the token's). */
  deviceId: z.string().max(128).optional(),
});

