import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppLabelError, appLabel, appLabelOfHost, appOrigin, isAppsHost, normaliseAppsDomain, parseAppLabel } from './app-origin.js';

const DEVICE_ID = fc.stringMatching(/^[A-Za-z0-9\-.%_*?!(),:=@$']{1,40}$/);
const SERVICE = fc.stringMatching(/^[A-Za-z0-9\-._]{1,12}$/);

describe('app labels', () => {
  it('maps lower-case DNS-safe ids as they are', () => {
    expect(appLabel('demo-device', 'http')).toBe('demo-device--http');
    expect(parseAppLabel('demo-device--http')).toEqual({ deviceId: 'demo-device', service: 'http' });
  });

  it('encodes ids a host name cannot hold, and the reserved x and xn', () => {
    for (const [d, s] of [['Pump_17', 'http'], ['a--b', 'http'], ['x', 'http'], ['xn', 'http'], ['dev', 'HTTP'], ['-a', 'http'], ['a.b', 'web.ui']]) {
      const label = appLabel(d as string, s as string);
      expect(label).toMatch(/^x--[a-z2-7]+$/);
      expect(parseAppLabel(label)).toEqual({ deviceId: d, service: s });
    }
  });

  it('round-trips any device id and service name that fits, in labels DNS takes', () => {
    fc.assert(fc.property(DEVICE_ID, SERVICE, (d, s) => {
      let label: string;
      try {
        label = appLabel(d, s);
      } catch (err) {
        expect(err).toBeInstanceOf(AppLabelError);
        expect((err as AppLabelError).reason).toBe('tooLong');
        return;
      }
      expect(label.length).toBeLessThanOrEqual(63);
      expect(label).toMatch(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
      expect(parseAppLabel(label)).toEqual({ deviceId: d, service: s });
    }), { numRuns: 2000 });
  });

  it('refuses a pair whose label would pass 63 characters, saying why', () => {
    expect(() => appLabel('a'.repeat(58), 'http')).toThrow(/63/);
    expect(appLabel('a'.repeat(57), 'http')).toHaveLength(63);
    expect(() => appLabel('bad/id', 'http')).toThrow(AppLabelError);
  });

  it('accepts no alias: only the label appLabel makes parses', () => {
    for (const l of ['Demo--http', 'x--', 'x--a', 'x--mfrgg', 'demo', 'a---b', 'x--http', 'xn--http', 'a--b--c']) {
      const p = parseAppLabel(l);
      if (p !== undefined) expect(appLabel(p.deviceId, p.service)).toBe(l);
    }
    expect(parseAppLabel('xn--http')).toBeUndefined();
    expect(parseAppLabel('Demo--http')).toBeUndefined();
  });
});

describe('app hosts', () => {
  it('finds the label under the apps domain and nothing else', () => {
    expect(appLabelOfHost('demo--http.apps.localhost:8443', 'apps.localhost')).toBe('demo--http');
    expect(appLabelOfHost('DEMO--http.Apps.Localhost', 'apps.localhost')).toBe('demo--http');
    expect(appLabelOfHost('localhost:8443', 'apps.localhost')).toBeUndefined();
    expect(appLabelOfHost('a.b.apps.localhost', 'apps.localhost')).toBeUndefined();
    expect(appLabelOfHost('evilapps.localhost', 'apps.localhost')).toBeUndefined();
    expect(isAppsHost('a.b.apps.localhost', 'apps.localhost')).toBe(true);
    expect(isAppsHost('apps.localhost:1', 'apps.localhost')).toBe(true);
    expect(isAppsHost('localhost:8443', 'apps.localhost')).toBe(false);
  });

  it('builds the origin with the console scheme and port', () => {
    expect(appOrigin('https://localhost:8443', 'apps.localhost', 'demo-device', 'http')).toBe('https://demo-device--http.apps.localhost:8443');
    expect(appOrigin('https://hub.example.com', 'apps.example.com', 'pump', 'https')).toBe('https://pump--https.apps.example.com');
  });

  it('checks the apps domain', () => {
    expect(normaliseAppsDomain('Apps.Example.com.')).toBe('apps.example.com');
    expect(() => normaliseAppsDomain('localhost')).toThrow(/two or more/);
    expect(() => normaliseAppsDomain('a_b.example.com')).toThrow(AppLabelError);
  });
});
