import { describe, expect, it } from 'vitest';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { describeWatchClose, type WatchCloseInfo } from './watch-close-reason';

const base: WatchCloseInfo = { code: 1000, reason: '', exitCode: null, errorMessage: null, localError: null, opened: true };
const say = (over: Partial<WatchCloseInfo>) => describeWatchClose({ ...base, ...over });

describe('describeWatchClose', () => {
  it('reports the end of the session with its exit code', () => {
    expect(say({ exitCode: 3 })).toBe('Session ended (exit code 3)');
    expect(say({ exitCode: 0, code: 1006 })).toBe('Session ended (exit code 0)');
    expect(say({})).toBe('Session ended');
  });

  it('says when the session is not live', () => {
    expect(say({ code: ConsoleCloseCode.NotFound })).toBe('This session is not live any more');
    expect(say({ code: ConsoleCloseCode.NotFound, opened: false })).toBe('This session is not live any more');
  });

  it('explains a refusal and a lost connection', () => {
    expect(say({ code: ConsoleCloseCode.Forbidden })).toMatch(/^Your role may not watch live sessions/);
    expect(say({ code: 1006, opened: false })).toMatch(/^Could not connect/);
    expect(say({ code: 1006 })).toBe('Connection lost');
    expect(say({ code: ConsoleCloseCode.LoggedOut })).toBe('Logged out');
    expect(say({ code: 1013, reason: 'watcher too slow' })).toMatch(/fell too far behind/);
  });

  it('puts a local error first', () => {
    expect(say({ localError: 'bad frame', exitCode: 1 })).toBe('bad frame');
  });
});
