import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../shared/console-protocol.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { StreamRejectedError } from '../sdk/service-client.js';
import { OFFLINE_GRACE_SECONDS, connectTimeoutFor, describeStreamFailure } from './terminal-refusals.js';

describe('connectTimeoutFor', () => {
  it('gives a device the registry shows offline only the grace period, and any other the whole timeout', () => {
    expect(connectTimeoutFor({ connectionState: 'Disconnected' }, 10)).toBe(OFFLINE_GRACE_SECONDS);
    expect(connectTimeoutFor({ connectionState: 'Disconnected' }, 0.2)).toBe(0.2);
    expect(connectTimeoutFor({ connectionState: 'Connected' }, 10)).toBe(10);
    expect(connectTimeoutFor(undefined, 10)).toBe(10);
  });
});

describe('describeStreamFailure', () => {
  it('says a rejection once, with the device’s reason and, for a missing mapping, the mapping to add', () => {
    const r = describeStreamFailure(new StreamRejectedError('s1', 'this device has no mapping for stream "shell"'), 'pump-17', 'shell', 10);
    expect(r.code).toBe(ConsoleCloseCode.Rejected);
    expect(r.message).toBe('Device pump-17 rejected the terminal: this device has no mapping for stream "shell".');
    expect(r.message.match(/rejected the terminal/g)).toHaveLength(1);
    expect(r.hint).toContain('--map shell=unix:');
  });

  it('gives no hint for a reason it cannot act on, and never doubles a full stop', () => {
    const r = describeStreamFailure(new StreamRejectedError('s1', 'connection refused by 127.0.0.1:22.'), 'pump-17', 'shell', 10);
    expect(r.message).toBe('Device pump-17 rejected the terminal: connection refused by 127.0.0.1:22.');
    expect(r.hint).toBeUndefined();
    expect(describeStreamFailure(new StreamRejectedError('s1', ' '), 'pump-17', 'shell', 10).message).toMatch(/no reason given\.$/);
  });

  it('calls a disabled device disabled (not offline), with how to enable it', () => {
    const r = describeStreamFailure(new DsError(ErrorCode.DeviceDisabled, 'device "pump-17" is disabled'), 'pump-17', 'shell', 10);
    expect(r.code).toBe(ConsoleCloseCode.Disabled);
    expect(r.message).toBe('Device pump-17 is disabled, so no stream reaches it.');
    expect(r.hint).toContain('devicestreams device enable pump-17');
  });

  it('calls a device that did not come online offline, saying why as the registry or the wait saw it', () => {
    const notOnline = new DsError(ErrorCode.DeviceNotOnline, 'x');
    const waited = describeStreamFailure(notOnline, 'pump-17', 'shell', 10);
    expect(waited.code).toBe(ConsoleCloseCode.Offline);
    expect(waited.message).toBe('Device pump-17 is offline: it did not connect within 10 s.');
    expect(waited.hint).toMatch(/agent/);
    expect(describeStreamFailure(notOnline, 'pump-17', 'shell', 0.5, true).message).toBe('Device pump-17 is offline: its agent is not connected to the hub.');
  });
});
