import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { describeTerminalClose, type TerminalCloseInfo } from './close-reason';

const base: TerminalCloseInfo = { code: 1000, reason: '', exitCode: null, errorMessage: null, localError: null };
const say = (over: Partial<TerminalCloseInfo>) => describeTerminalClose({ ...base, ...over });

describe('describeTerminalClose', () => {
  it('reports the shell exit code after an EXIT frame and a normal close', () => {
    expect(say({ code: 1000, exitCode: 0 })).toBe('Shell exited with code 0');
    expect(say({ code: 1000, exitCode: 130 })).toBe('Shell exited with code 130');
  });

  it('puts the device’s reason after a rejection', () => {
    expect(say({ code: ConsoleCloseCode.Rejected, errorMessage: 'no such service' })).toBe('Device rejected the terminal: no such service');
    expect(say({ code: ConsoleCloseCode.Rejected, reason: 'busy' })).toBe('Device rejected the terminal: busy');
  });

  it('has a sentence for each close code', () => {
    expect(say({ code: ConsoleCloseCode.Offline })).toBe('Device is offline');
    expect(say({ code: ConsoleCloseCode.Timeout })).toBe('Timed out waiting for the device');
    expect(say({ code: ConsoleCloseCode.ConnectionLost })).toBe('Connection lost');
    expect(say({ code: 1006 })).toBe('Connection lost');
    for (const code of Object.values(ConsoleCloseCode)) expect(say({ code })).not.toBe('');
  });

  it('adds the server’s message without repeating the sentence', () => {
    expect(say({ code: ConsoleCloseCode.Offline, errorMessage: 'pump-17 did not connect within 60 s' })).toBe(
      'Device is offline: pump-17 did not connect within 60 s',
    );
    expect(say({ code: ConsoleCloseCode.Offline, errorMessage: 'Device is offline.' })).toBe('Device is offline.');
    expect(say({ code: ConsoleCloseCode.Forbidden, errorMessage: 'Viewers cannot open terminals.' })).toBe(
      'Not allowed to open a terminal: Viewers cannot open terminals.',
    );
  });

  it('prefers a local protocol error, and names unknown codes', () => {
    expect(say({ code: 1000, exitCode: 0, localError: 'malformed' })).toBe('malformed');
    expect(say({ code: 4999, reason: 'odd' })).toBe('Closed (code 4999): odd');
  });
});
