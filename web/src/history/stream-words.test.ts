import { describe, expect, it } from 'vitest';
import { closerWords, isFailedAttempt, resultCodeWords, resultWords } from './stream-words';

describe('stream words', () => {
  it('says each result code in words and keeps an unknown one as it is', () => {
    expect(resultWords({ result: 'deviceOffline', state: 'ended', reason: 'device did not connect within 3 s' })).toBe('device offline');
    expect(resultWords({ result: 'deviceOffline', state: 'ended', reason: 'device is disabled' })).toBe('device disabled');
    expect(resultWords({ result: 'hubRestart', state: 'ended', reason: 'hubRestart' })).toBe('hub restarted');
    expect(resultWords({ result: 'rejected', state: 'ended', reason: 'no mapping' })).toBe('refused by the device');
    expect(resultCodeWords('somethingNew')).toBe('somethingNew');
  });

  it('says where a stream without a result stands', () => {
    expect(resultWords({ result: null, state: 'open', reason: null })).toBe('live');
    expect(resultWords({ result: null, state: 'pending', reason: null })).toBe('waiting for the device');
  });

  it('counts every result but accepted as a failed attempt, and a stream without one as none', () => {
    expect(isFailedAttempt({ result: 'deviceOffline' })).toBe(true);
    expect(isFailedAttempt({ result: 'accepted' })).toBe(false);
    expect(isFailedAttempt({ result: null })).toBe(false);
  });

  it('says who closed the stream, with the reason unless it was a clean close', () => {
    expect(closerWords({ closedBy: 'service', closeCode: 1006, reason: null })).toBe('closed by the service (connection lost)');
    expect(closerWords({ closedBy: 'device', closeCode: 1000, reason: null })).toBe('closed by the device');
    expect(closerWords({ closedBy: 'gateway', closeCode: 4002, reason: 'handshakeTimeout: …' })).toBe('closed by the streaming endpoint (handshake timed out)');
    expect(closerWords({ closedBy: 'hub', closeCode: null, reason: 'hubRestart' })).toBe('hub restarted');
    expect(closerWords({ closedBy: null, closeCode: null, reason: null })).toBeNull();
  });
});
