import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { describeTerminalClose, endTone, type TerminalCloseInfo } from './close-reason';

const base: TerminalCloseInfo = { code: 1000, reason: '', exitCode: null, errorMessage: null, localError: null };
const say = (over: Partial<TerminalCloseInfo>) => describeTerminalClose({ ...base, ...over });

describe('describeTerminalClose', () => {
  it('reports the shell exit code after an EXIT frame and a normal close', () => {
    expect(say({ code: 1000, exitCode: 0 })).toBe('Shell exited with code 0');
    expect(say({ code: 1000, exitCode: 130 })).toBe('Shell exited with code 130');
  });

  it('shows the console server’s sentence as it is, so a rejection is said once', () => {
    const message = 'Device pump-17 rejected the terminal: this device has no mapping for stream "shell".';
    expect(say({ code: ConsoleCloseCode.Rejected, errorMessage: message, reason: message })).toBe(message);
    expect(say({ code: ConsoleCloseCode.Rejected, reason: 'busy' })).toBe('Device rejected the terminal: busy');
  });

  it('has a sentence for each close code', () => {
    expect(say({ code: ConsoleCloseCode.Offline })).toBe('Device is offline');
    expect(say({ code: ConsoleCloseCode.Timeout })).toBe('Timed out waiting for the device');
    expect(say({ code: ConsoleCloseCode.ConnectionLost })).toBe('Connection lost');
    expect(say({ code: ConsoleCloseCode.TakenOver })).toBe('This terminal session was opened in another tab or window.');
    expect(say({ code: 1006 })).toBe('Connection lost');
    for (const code of Object.values(ConsoleCloseCode)) expect(say({ code })).not.toBe('');
  });

  it('leads a bare close reason with its sentence, without repeating it', () => {
    expect(say({ code: ConsoleCloseCode.Offline, reason: 'pump-17 did not connect within 60 s' })).toBe('Device is offline: pump-17 did not connect within 60 s');
    expect(say({ code: ConsoleCloseCode.Offline, reason: 'Device is offline.' })).toBe('Device is offline.');
    expect(say({ code: ConsoleCloseCode.Disabled })).toBe('Device is disabled');
  });

  it('prefers a local protocol error, and names unknown codes', () => {
    expect(say({ code: 1000, exitCode: 0, localError: 'malformed' })).toBe('malformed');
    expect(say({ code: 4999, reason: 'odd' })).toBe('Closed (code 4999): odd');
  });
});

describe('endTone', () => {
  it('tells a clean end from a failure', () => {
    expect(endTone({ code: 1000, exitCode: 0, localError: null })).toBe('clean');
    expect(endTone({ code: 1000, exitCode: null, localError: null })).toBe('clean');
    expect(endTone({ code: 1000, exitCode: 3, localError: null })).toBe('neutral');
    expect(endTone({ code: ConsoleCloseCode.TakenOver, exitCode: null, localError: null })).toBe('elsewhere');
    expect(endTone({ code: ConsoleCloseCode.SessionEnded, exitCode: null, localError: null })).toBe('neutral');
    expect(endTone({ code: ConsoleCloseCode.Offline, exitCode: null, localError: null })).toBe('failed');
    expect(endTone({ code: 1006, exitCode: null, localError: null })).toBe('failed');
    expect(endTone({ code: 1000, exitCode: 0, localError: 'malformed' })).toBe('failed');
  });
});
