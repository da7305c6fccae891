import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { SessionCloseCode } from '../../../shared/terminal-protocol';
import { backoffMs, MAX_BACKOFF_MS, sessionOver, shouldReconnect, type ConnectionEnd } from './reconnect';

const end = (over: Partial<ConnectionEnd>): ConnectionEnd => ({ code: 1006, exitCode: null, closeFrame: null, localError: false, ...over });

describe('shouldReconnect', () => {
  it('comes back after a lost connection, a console going away, an offline device or a busy hub', () => {
    for (const code of [1006, 1001, 1011, ConsoleCloseCode.ConnectionLost, ConsoleCloseCode.Offline, ConsoleCloseCode.Timeout, ConsoleCloseCode.Busy, ConsoleCloseCode.Internal]) {
      expect(shouldReconnect(end({ code })), String(code)).toBe(true);
    }
  });

  it('stops when the shell exited, the shell server let go, the page broke, or the console refused for good', () => {
    expect(shouldReconnect(end({ code: 1000, exitCode: 0 }))).toBe(false);
    expect(shouldReconnect(end({ closeFrame: SessionCloseCode.Expired }))).toBe(false);
    expect(shouldReconnect(end({ localError: true }))).toBe(false);
    for (const code of [ConsoleCloseCode.LoggedOut, ConsoleCloseCode.Revoked, ConsoleCloseCode.Forbidden, ConsoleCloseCode.SessionEnded, ConsoleCloseCode.TakenOver, ConsoleCloseCode.NotFound, 1000]) {
      expect(shouldReconnect(end({ code })), String(code)).toBe(false);
    }
  });

  it('tells a takeover from an end', () => {
    expect(sessionOver(SessionCloseCode.TakenOver)).toBe(false);
    expect(sessionOver(SessionCloseCode.Ended)).toBe(true);
  });
});

describe('backoffMs', () => {
  it('doubles from 250 ms to its cap, within ±20 %', () => {
    expect(backoffMs(0, () => 0.5)).toBe(250);
    expect(backoffMs(1, () => 0.5)).toBe(500);
    expect(backoffMs(3, () => 0.5)).toBe(2000);
    expect(backoffMs(50, () => 0.5)).toBe(MAX_BACKOFF_MS);
    expect(backoffMs(0, () => 0)).toBe(200);
    expect(backoffMs(0, () => 1)).toBe(300);
  });
});
