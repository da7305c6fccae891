import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../shared/console-protocol.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { StreamRejectedError } from '../sdk/service-client.js';
import { describeStreamFailure, presenceRefusal } from './terminal-refusals.js';

const device = (status: 'enabled' | 'disabled', connectionState: 'Connected' | 'Disconnected') => ({ deviceId: 'pump-17', status, connectionState });

describe('presenceRefusal', () => {
  it('refuses a disabled device as disabled, whether or not it is connected, with how to enable it', () => {
    for (const online of ['Connected', 'Disconnected'] as const) {
      const r = presenceRefusal(device('disabled', online));
      expect(r?.code).toBe(ConsoleCloseCode.Disabled);
      expect(r?.message).toBe('Device pump-17 is disabled, so no stream reaches it.');
      expect(r?.message).not.toMatch(/offline/);
      expect(r?.hint).toContain('devicestreams device enable pump-17');
    }
  });

  it('refuses an enabled device that is not connected as offline, and lets a connected one through', () => {
    const r = presenceRefusal(device('enabled', 'Disconnected'));
    expect(r?.code).toBe(ConsoleCloseCode.Offline);
    expect(r?.message).toBe('Device pump-17 is offline: its agent is not connected to the hub.');
    expect(r?.hint).toMatch(/agent/);
    expect(presenceRefusal(device('enabled', 'Connected'))).toBeUndefined();
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

  it('calls a device the hub found disabled disabled, and one that did not come online offline', () => {
    expect(describeStreamFailure(new DsError(ErrorCode.DeviceDisabled, 'device "pump-17" is disabled'), 'pump-17', 'shell', 10).code).toBe(ConsoleCloseCode.Disabled);
    const offline = describeStreamFailure(new DsError(ErrorCode.DeviceNotOnline, 'x'), 'pump-17', 'shell', 10);
    expect(offline.code).toBe(ConsoleCloseCode.Offline);
    expect(offline.message).toBe('Device pump-17 is offline: it did not connect within 10 s.');
  });
});
