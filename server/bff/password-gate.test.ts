import { describe, expect, it } from 'vitest';
import { ApiFailure } from './api-errors.js';
import { PasswordGate } from './password-gate.js';

/** A check that finishes when told to; records when it started. */
function held(started: string[], name: string): { check: () => Promise<string>; finish: () => void } {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  return { check: async () => { started.push(name); await done; return name; }, finish: () => finish() };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('PasswordGate', () => {
  it('runs at most maxRunning checks at once, and starts a waiting known-address check before every other waiting one', async () => {
    const gate = new PasswordGate({ maxRunning: 2, maxWaiting: 10 });
    const started: string[] = [];
    const checks = ['o1', 'o2', 'o3', 'o4', 'k1'].map((n) => ({ n, ...held(started, n) }));
    const results = checks.map(({ n, check }) => gate.run(n.startsWith('k'), check));
    await tick();
    expect(started).toEqual(['o1', 'o2']);
    expect(gate.load).toEqual({ running: 2, waitingKnown: 1, waitingOther: 2 });
    checks[0]?.finish();
    await tick();
    // k1 came last and goes first.
    expect(started).toEqual(['o1', 'o2', 'k1']);
    for (const c of checks) c.finish();
    expect(await Promise.all(results)).toEqual(['o1', 'o2', 'o3', 'o4', 'k1']);
    expect(started).toEqual(['o1', 'o2', 'k1', 'o3', 'o4']);
    expect(gate.load).toEqual({ running: 0, waitingKnown: 0, waitingOther: 0 });
  });

  it('refuses a check at once with 503 login_busy and Retry-After when its lane is full, while the other lane still takes one', async () => {
    const gate = new PasswordGate({ maxRunning: 1, maxWaiting: 2 });
    const started: string[] = [];
    const checks = ['o1', 'o2', 'o3'].map((n) => held(started, n));
    const running = checks.map((c) => gate.run(false, c.check));
    await tick();
    const refused = await gate.run(false, () => Promise.resolve('never')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiFailure);
    expect(refused).toMatchObject({ status: 503, code: 'login_busy', headers: { 'retry-after': '1' } });
    const known = held(started, 'k1');
    const k = gate.run(true, known.check);
    for (const c of [...checks, known]) c.finish();
    expect(await Promise.all([...running, k])).toEqual(['o1', 'o2', 'o3', 'k1']);
    expect(started).not.toContain('never');
  });

  it('frees its place when a check throws', async () => {
    const gate = new PasswordGate({ maxRunning: 1, maxWaiting: 1 });
    await expect(gate.run(false, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(false, () => Promise.resolve('next'))).toBe('next');
    expect(gate.load.running).toBe(0);
  });
});
