import { describe, expect, it } from 'vitest';
import { DsError, ErrorCode, isErrorBody, statusOf } from './errors.js';

describe('ErrorCode', () => {
  const codes = Object.entries(ErrorCode);

  it('every code is six digits, unique, and its first three digits are a real HTTP error status', () => {
    expect(new Set(codes.map(([, c]) => c)).size).toBe(codes.length);
    for (const [name, code] of codes) {
      expect(code, name).toBeGreaterThanOrEqual(100_000);
      expect(code, name).toBeLessThan(1_000_000);
      expect([400, 401, 403, 404, 405, 408, 409, 412, 413, 429, 431, 500, 502, 503, 504], name).toContain(statusOf(code));
    }
  });

  it('keeps the Azure IoT Hub codes the architecture names', () => {
    expect(ErrorCode.DeviceNotFound).toBe(404001);
    expect(ErrorCode.DeviceNotOnline).toBe(404103);
    expect(ErrorCode.DeviceResponseTimeout).toBe(504101);
    expect(statusOf(ErrorCode.DeviceNotOnline)).toBe(404);
    expect(statusOf(ErrorCode.DeviceResponseTimeout)).toBe(504);
    expect(statusOf(ErrorCode.ThrottledRate)).toBe(429);
  });
});

describe('DsError', () => {
  it('carries its code, status, message and name', () => {
    const e = new DsError(ErrorCode.TokenExpired, 'SAS token has expired');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(DsError);
    expect(e.name).toBe('DsError');
    expect(e.code).toBe(401003);
    expect(e.status).toBe(401);
    expect(e.message).toBe('SAS token has expired');
    expect(e.retryAfterSeconds).toBeUndefined();
    expect(e.cause).toBeUndefined();
    expect(e.stack).toMatch(/DsError: SAS token has expired/);
  });

  it('carries Retry-After and a cause when given', () => {
    const cause = new Error('root');
    const e = new DsError(ErrorCode.ThrottledDevice, 'too many streams', { retryAfterSeconds: 5, cause });
    expect(e.status).toBe(429);
    expect(e.retryAfterSeconds).toBe(5);
    expect(e.cause).toBe(cause);
  });
});

describe('isErrorBody', () => {
  it('recognises the Azure error body shape', () => {
    expect(isErrorBody({ errorCode: 404001, trackingId: 't', message: 'device not found', timestampUtc: '2024-01-01T00:00:00Z' })).toBe(true);
    expect(isErrorBody({ errorCode: 404001, message: 'minimal' })).toBe(true);
  });

  it.each([null, undefined, 'error', 404001, [], {}, { errorCode: '404001', message: 'm' }, { errorCode: 404001 }, { message: 'm' }])('rejects %j', (value) => {
    expect(isErrorBody(value)).toBe(false);
  });
});
