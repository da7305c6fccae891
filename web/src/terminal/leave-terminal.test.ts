import { describe, expect, it } from 'vitest';
import { LEAVE_WINDOW_MS, LeaveKey, type KeyLike } from './leave-terminal';

const key = (k: string, mods: Partial<KeyLike> = {}): KeyLike => ({ key: k, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods });

describe('LeaveKey', () => {
  it('leaves on Esc then Tab, and backwards on Esc then Shift+Tab (the Shift keydown between is no break)', () => {
    const l = new LeaveKey();
    expect(l.keydown(key('Escape'), true, 1000)).toBeNull();
    expect(l.keydown(key('Tab'), true, 1500)).toBe('next');
    expect(l.keydown(key('Escape'), true, 2000)).toBeNull();
    expect(l.keydown(key('Shift', { shiftKey: true }), true, 2100)).toBeNull();
    expect(l.keydown(key('Tab', { shiftKey: true }), true, 2200)).toBe('previous');
  });

  it('leaves Tab to the shell on its own, after another key, or once the window has passed', () => {
    const l = new LeaveKey();
    expect(l.keydown(key('Tab'), true, 0)).toBeNull();
    l.keydown(key('Escape'), true, 0);
    l.keydown(key('x'), true, 10);
    expect(l.keydown(key('Tab'), true, 20)).toBeNull();
    l.keydown(key('Escape'), true, 100);
    expect(l.keydown(key('Tab'), true, 100 + LEAVE_WINDOW_MS + 1)).toBeNull();
    l.keydown(key('Escape'), true, 5000);
    expect(l.keydown(key('Tab', { ctrlKey: true }), true, 5001)).toBeNull();
  });

  it('takes one Tab per Esc', () => {
    const l = new LeaveKey();
    l.keydown(key('Escape'), true, 0);
    expect(l.keydown(key('Tab'), true, 1)).toBe('next');
    expect(l.keydown(key('Tab'), true, 2)).toBeNull();
  });

  it('lets Tab alone leave once the session has ended', () => {
    const l = new LeaveKey();
    expect(l.keydown(key('Tab'), false, 0)).toBe('next');
    expect(l.keydown(key('Tab', { shiftKey: true }), false, 1)).toBe('previous');
  });
});
