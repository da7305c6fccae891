import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
// Azure's own parser, bundled in azure-iothub (a dev dependency). A static import: if the package
// moves this file, the suite fails to load instead of skipping the compatibility checks.
import * as azureCs from 'azure-iothub/dist/connection_string.js';
import { applyEdits, editArbitrary, loneSurrogate } from '../test/mutation.js';
import { thrown } from '../test/expect-error.js';
import {
  buildConnectionString,
  parseConnectionString,
  parseDeviceConnectionString,
  parseServiceConnectionString,
  type ConnectionString,
  type DeviceConnectionString,
  type ServiceConnectionString,
} from './connection-string.js';
import { DsError, ErrorCode } from './errors.js';

// A real-looking 32-byte key: 44 base64 characters ending in '=' (the reason for "split on the first '='").
const KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const KEY2 = Buffer.alloc(64, 0xfb).toString('base64'); // contains '+' and '/', ends in '=='

function expectArgumentInvalid(fn: () => unknown, message: RegExp): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(DsError);
  const err = e as DsError;
  expect(err.code).toBe(ErrorCode.ArgumentInvalid);
  expect(err.status).toBe(400);
  expect(err.message).toMatch(/^invalid connection string: /);
  expect(err.message).toMatch(message);
}

/** Only DsError(ArgumentInvalid) may escape; anything else (TypeError, RangeError, …) fails the property. */
function onlyArgumentInvalid(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DsError)) throw e;
    expect(e.code).toBe(ErrorCode.ArgumentInvalid);
  }
}

describe('parseConnectionString: valid input', () => {
  it('parses the device form', () => {
    const cs = parseConnectionString(`HostName=myhub.example.com;DeviceId=dev-1;SharedAccessKey=${KEY}`);
    expect(cs).toEqual({ kind: 'device', hostName: 'myhub.example.com', deviceId: 'dev-1', sharedAccessKey: KEY });
  });

  it('parses the service form', () => {
    const cs = parseConnectionString(`HostName=myhub.example.com;SharedAccessKeyName=service;SharedAccessKey=${KEY2}`);
    expect(cs).toEqual({ kind: 'service', hostName: 'myhub.example.com', sharedAccessKeyName: 'service', sharedAccessKey: KEY2 });
  });

  it('splits each part on the first "=" only, so base64 padding and "=" in values survive', () => {
    expect(KEY2.endsWith('==')).toBe(true);
    const cs = parseConnectionString(`HostName=h;DeviceId=a=b==c;SharedAccessKey=${KEY2}`);
    expect(cs).toEqual({ kind: 'device', hostName: 'h', deviceId: 'a=b==c', sharedAccessKey: KEY2 });
  });

  it('accepts the parts in any order, a trailing ";" and surrounding whitespace', () => {
    const cs = parseConnectionString(`  SharedAccessKey=${KEY} ; DeviceId=dev-1;HostName=localhost:8443;  `);
    expect(cs).toEqual({ kind: 'device', hostName: 'localhost:8443', deviceId: 'dev-1', sharedAccessKey: KEY });
  });

  it('accepts a host with a development port', () => {
    const cs = parseConnectionString(`HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`);
    expect(cs.hostName).toBe('localhost:8443');
  });

  it('ignores parts it does not know (Azure adds e.g. GatewayHostName)', () => {
    const cs = parseConnectionString(`HostName=h.example;DeviceId=d;SharedAccessKey=${KEY};GatewayHostName=gw.example`);
    expect(cs).toEqual({ kind: 'device', hostName: 'h.example', deviceId: 'd', sharedAccessKey: KEY });
  });
});

describe('buildConnectionString', () => {
  const device: DeviceConnectionString = { kind: 'device', hostName: 'myhub.example.com', deviceId: 'dev-1', sharedAccessKey: KEY };
  const service: ServiceConnectionString = { kind: 'service', hostName: 'localhost:8443', sharedAccessKeyName: 'service', sharedAccessKey: KEY2 };

  it('builds the Azure text forms', () => {
    expect(buildConnectionString(device)).toBe(`HostName=myhub.example.com;DeviceId=dev-1;SharedAccessKey=${KEY}`);
    expect(buildConnectionString(service)).toBe(`HostName=localhost:8443;SharedAccessKeyName=service;SharedAccessKey=${KEY2}`);
  });

  it('round-trips both forms', () => {
    expect(parseConnectionString(buildConnectionString(device))).toEqual(device);
    expect(parseConnectionString(buildConnectionString(service))).toEqual(service);
    expect(parseDeviceConnectionString(buildConnectionString(device))).toEqual(device);
    expect(parseServiceConnectionString(buildConnectionString(service))).toEqual(service);
  });
});

describe('parseConnectionString: malformed input gives DsError 400004 naming the problem', () => {
  const cases: [string, string, RegExp][] = [
    ['empty', '', /it is empty/],
    ['only whitespace', '   \t ', /it is empty/],
    ['only separators', ';;;', /HostName is missing/],
    ['missing HostName', `DeviceId=d;SharedAccessKey=${KEY}`, /HostName is missing/],
    ['missing SharedAccessKey', 'HostName=h;DeviceId=d', /SharedAccessKey is missing/],
    ['neither DeviceId nor SharedAccessKeyName', `HostName=h;SharedAccessKey=${KEY}`, /needs DeviceId .*SharedAccessKeyName/],
    ['both DeviceId and SharedAccessKeyName', `HostName=h;DeviceId=d;SharedAccessKeyName=service;SharedAccessKey=${KEY}`, /both DeviceId and SharedAccessKeyName/],
    ['duplicate HostName', `HostName=h;HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, /HostName appears twice/],
    ['duplicate DeviceId', `HostName=h;DeviceId=d;DeviceId=e;SharedAccessKey=${KEY}`, /DeviceId appears twice/],
    ['duplicate SharedAccessKey', `HostName=h;DeviceId=d;SharedAccessKey=${KEY};SharedAccessKey=${KEY2}`, /SharedAccessKey appears twice/],
    ['part without "="', `HostName=h;DeviceId;SharedAccessKey=${KEY}`, /"DeviceId" is not NAME=VALUE/],
    ['part with an empty name', `HostName=h;DeviceId=d;=x;SharedAccessKey=${KEY}`, /is not NAME=VALUE/],
    ['empty HostName value', `HostName=;DeviceId=d;SharedAccessKey=${KEY}`, /HostName is empty/],
    ['empty DeviceId value', `HostName=h;DeviceId=  ;SharedAccessKey=${KEY}`, /DeviceId is empty/],
    ['empty key', 'HostName=h;DeviceId=d;SharedAccessKey=', /SharedAccessKey is empty/],
    ['key with characters outside base64', 'HostName=h;DeviceId=d;SharedAccessKey=not-base64!not-base64!', /SharedAccessKey must be base64/],
    ['key with "=" inside', 'HostName=h;DeviceId=d;SharedAccessKey=AAAAAAAA=AAAAAAAAAAAAAAA', /SharedAccessKey must be base64/],
    ['key with three "=" of padding', 'HostName=h;DeviceId=d;SharedAccessKey=AAAAAAAAAAAAAAAAA===', /SharedAccessKey must be base64/],
    ['key with a space inside', 'HostName=h;DeviceId=d;SharedAccessKey=AAAAAAAA AAAAAAAAAAAA', /SharedAccessKey must be base64/],
    ['key too short', 'HostName=h;DeviceId=d;SharedAccessKey=QUJD', /SharedAccessKey must be base64 \(at least 16 characters\)/],
    ['host with a space', `HostName=my hub;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with a path', `HostName=h.example/x;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with a scheme', `HostName=https://h.example;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with user info', `HostName=u@h.example;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with a non-numeric port', `HostName=h.example:http;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with a six-digit port', `HostName=h.example:123456;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with an empty port', `HostName=h.example:;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
    ['host with a query', `HostName=h.example?x=1;DeviceId=d;SharedAccessKey=${KEY}`, /HostName must be a host name/],
  ];

  it.each(cases)('%s', (_label, text, message) => {
    expectArgumentInvalid(() => parseConnectionString(text), message);
  });

  it('rejects a value that is not a string', () => {
    expectArgumentInvalid(() => parseConnectionString(undefined as unknown as string), /it is empty/);
    expectArgumentInvalid(() => parseConnectionString(42 as unknown as string), /it is empty/);
  });

  // The module's own contract (connection-string.ts, parts(): "duplicate or empty names are errors").
  // Today " =x" trims to the empty name "" and is silently accepted.
  it('[BUG] rejects a part whose name is only whitespace', () => {
    expectArgumentInvalid(() => parseConnectionString(`HostName=h;DeviceId=d; =x;SharedAccessKey=${KEY}`), /name|NAME=VALUE/);
  });
});

describe('parseDeviceConnectionString / parseServiceConnectionString', () => {
  const deviceText = `HostName=h.example;DeviceId=d;SharedAccessKey=${KEY}`;
  const serviceText = `HostName=h.example;SharedAccessKeyName=service;SharedAccessKey=${KEY}`;

  it('accept their own kind', () => {
    expect(parseDeviceConnectionString(deviceText).deviceId).toBe('d');
    expect(parseServiceConnectionString(serviceText).sharedAccessKeyName).toBe('service');
  });

  it('a service string given where a device one is needed says so', () => {
    expectArgumentInvalid(() => parseDeviceConnectionString(serviceText), /this is a service connection string; a device one has DeviceId=/);
  });

  it('a device string given where a service one is needed says so', () => {
    expectArgumentInvalid(() => parseServiceConnectionString(deviceText), /this is a device connection string; a service one has SharedAccessKeyName=/);
  });

  it('still report the underlying problem for a malformed string', () => {
    expectArgumentInvalid(() => parseDeviceConnectionString(''), /it is empty/);
    expectArgumentInvalid(() => parseServiceConnectionString('HostName=h'), /SharedAccessKey is missing/);
  });
});

// Azure's own parser (bundled in azure-iothub) splits the same way; what we build, it reads back.
describe('compatibility with azure-iothub ConnectionString.parse', () => {
  it('reads a service string we build with the same fields', () => {
    const text = buildConnectionString({ kind: 'service', hostName: 'myhub.example.com', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY2 });
    const parsed = azureCs.parse(text);
    expect(parsed.HostName).toBe('myhub.example.com');
    expect(parsed.SharedAccessKeyName).toBe('iothubowner');
    expect(parsed.SharedAccessKey).toBe(KEY2);
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based
// ---------------------------------------------------------------------------------------------

const anyChar = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 6, arbitrary: fc.constantFrom(';', '=', ' ', '\t', ':', '/', '+', '.', '-') },
  { weight: 1, arbitrary: loneSurrogate },
);

const editArb = editArbitrary(anyChar);

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const hostArb = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([labels, port]) => labels.join('.') + (port === undefined ? '' : `:${port}`));
// Azure's device id alphabet (limits.ts DEVICE_ID_PATTERN) — includes '=' but never ';'.
const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/);
const keyNameArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const keyArb = fc.uint8Array({ minLength: 12, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
const csArb: fc.Arbitrary<ConnectionString> = fc.oneof(
  fc.record({ kind: fc.constant('device' as const), hostName: hostArb, deviceId: deviceIdArb, sharedAccessKey: keyArb }),
  fc.record({ kind: fc.constant('service' as const), hostName: hostArb, sharedAccessKeyName: keyNameArb, sharedAccessKey: keyArb }),
);

const tokenSoup = fc
  .array(fc.constantFrom('HostName', 'DeviceId', 'SharedAccessKey', 'SharedAccessKeyName', '=', '==', ';', ' ', 'h.example', 'localhost:8443', 'dev', KEY, 'x'), {
    maxLength: 20,
  })
  .map((xs) => xs.join(''));

describe('properties', () => {
  it('build → parse round-trips every valid device and service connection string', () => {
    fc.assert(
      fc.property(csArb, (cs) => {
        const text = buildConnectionString(cs);
        expect(parseConnectionString(text)).toEqual(cs);
        if (cs.kind === 'device') expect(parseDeviceConnectionString(text)).toEqual(cs);
        else expect(parseServiceConnectionString(text)).toEqual(cs);
      }),
      { numRuns: 1000 },
    );
  });

  it('random strings: only DsError(400004) escapes, and whatever parses round-trips through build', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: anyChar, maxLength: 120 }), tokenSoup), (text) => {
        onlyArgumentInvalid(() => {
          const cs = parseConnectionString(text);
          expect(parseConnectionString(buildConnectionString(cs))).toEqual(cs);
        });
        onlyArgumentInvalid(() => parseDeviceConnectionString(text));
        onlyArgumentInvalid(() => parseServiceConnectionString(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid strings: only DsError(400004) escapes, and a successful parse is well-formed', () => {
    fc.assert(
      fc.property(csArb, fc.array(editArb, { minLength: 1, maxLength: 4 }), (cs, edits) => {
        const text = applyEdits(buildConnectionString(cs), edits);
        onlyArgumentInvalid(() => {
          const out = parseConnectionString(text);
          expect(out.hostName).toMatch(/^[A-Za-z0-9.-]+(:\d{1,5})?$/);
          expect(out.sharedAccessKey).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
          expect(parseConnectionString(buildConnectionString(out))).toEqual(out);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
