import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyEdits, editArbitrary, loneSurrogate } from '../test/mutation.js';
import {
  CONTROL_PROTOCOL_VERSION,
  decodeControlMessage,
  encodeControlMessage,
  type ControlMessage,
  type DecodeResult,
} from './control-protocol.js';
import { MAX_CONTROL_MESSAGE_BYTES } from './limits.js';

const hello: ControlMessage = { type: 'hello', protocol: CONTROL_PROTOCOL_VERSION, agent: 'devicestreams-agent/0.1.0 node/20' };
const welcome: ControlMessage = { type: 'welcome', protocol: CONTROL_PROTOCOL_VERSION, deviceId: 'dev-1', heartbeatIntervalMs: 30_000 };
const streamRequest: ControlMessage = {
  type: 'streamRequest',
  requestId: 'req-1',
  streamName: 'ssh',
  url: 'wss://hub.example:443/bridges/8c1d0a5e',
  authToken: 'eyJhbGciOiJIUzI1NiJ9.e30.sig',
  expiresAt: 1_700_000_060_000,
};
const accepted: ControlMessage = { type: 'streamResponse', requestId: 'req-1', accepted: true };
const rejected: ControlMessage = { type: 'streamResponse', requestId: 'req-1', accepted: false, reason: 'no mapping for stream "rdp"' };

function expectError(result: DecodeResult<ControlMessage>, message: RegExp): void {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(typeof result.error).toBe('string');
    expect(result.error).toMatch(message);
  }
}

describe('encodeControlMessage / decodeControlMessage', () => {
  it.each([
    ['hello', hello],
    ['hello with the services it serves', { ...hello, services: ['files', 'http', 'shell'] }],
    ['welcome', welcome],
    ['streamRequest', streamRequest],
    ['streamResponse accepted', accepted],
    ['streamResponse rejected with a reason', rejected],
  ])('round-trips %s', (_label, message) => {
    const text = encodeControlMessage(message);
    expect(JSON.parse(text)).toEqual(message);
    expect(decodeControlMessage(text)).toEqual({ ok: true, value: message });
  });

  it('accepts fields it does not know yet (a newer peer) and leaves them out of the value', () => {
    const result = decodeControlMessage(JSON.stringify({ ...hello, capabilities: ['resize'] }));
    expect(result).toEqual({ ok: true, value: hello });
  });

  it('accepts a message of exactly the size limit', () => {
    const base = encodeControlMessage(hello);
    const padded = base.slice(0, -1) + ' '.repeat(MAX_CONTROL_MESSAGE_BYTES - base.length) + '}';
    expect(padded).toHaveLength(MAX_CONTROL_MESSAGE_BYTES);
    expect(decodeControlMessage(padded)).toEqual({ ok: true, value: hello });
  });
});

describe('decodeControlMessage: bad input gives {ok:false,error} and never throws', () => {
  it.each(['', '{', '{"type":"hello",}', "{'type':'hello'}", 'undefined', 'NaN', '{"type":"hello"} x', '\u0000'])('not JSON: %j', (text) => {
    expectError(decodeControlMessage(text), /not JSON/);
  });

  it.each(['null', '1', '"hello"', 'true', '[]', '[{"type":"hello","protocol":1,"agent":"a"}]'])('JSON that is not an object: %s', (text) => {
    expectError(decodeControlMessage(text), /^invalid control message: /);
  });

  it('unknown or missing type', () => {
    expectError(decodeControlMessage('{"type":"shell","cmd":"rm -rf /"}'), /^invalid control message: type/);
    expectError(decodeControlMessage('{"protocol":1,"agent":"a"}'), /^invalid control message: type/);
    expectError(decodeControlMessage('{"type":"Hello","protocol":1,"agent":"a"}'), /^invalid control message: type/);
    expectError(decodeControlMessage('{"type":null}'), /^invalid control message: type/);
  });

  const wrong: [string, unknown, string][] = [
    ['hello.protocol as a string', { ...hello, protocol: '1' }, 'protocol'],
    ['hello.protocol fractional', { ...hello, protocol: 1.5 }, 'protocol'],
    ['hello.agent as a number', { ...hello, agent: 5 }, 'agent'],
    ['hello.agent missing', { type: 'hello', protocol: 1 }, 'agent'],
    ['hello.agent longer than 200', { ...hello, agent: 'a'.repeat(201) }, 'agent'],
    ['hello.services with a name that is not a stream name', { ...hello, services: ['shell', 'a b'] }, 'services.1'],
    ['hello.services with more than 64 names', { ...hello, services: Array.from({ length: 65 }, (_, i) => `s${i}`) }, 'services'],
    ['welcome.deviceId missing', { ...welcome, deviceId: undefined }, 'deviceId'],
    ['welcome.heartbeatIntervalMs zero', { ...welcome, heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs'],
    ['welcome.heartbeatIntervalMs negative', { ...welcome, heartbeatIntervalMs: -1000 }, 'heartbeatIntervalMs'],
    ['welcome.heartbeatIntervalMs fractional', { ...welcome, heartbeatIntervalMs: 0.5 }, 'heartbeatIntervalMs'],
    ['streamRequest.requestId longer than 100', { ...streamRequest, requestId: 'r'.repeat(101) }, 'requestId'],
    ['streamRequest.streamName longer than 64', { ...streamRequest, streamName: 's'.repeat(65) }, 'streamName'],
    ['streamRequest.url as an object', { ...streamRequest, url: { href: 'wss://x' } }, 'url'],
    ['streamRequest.url longer than 2048', { ...streamRequest, url: `wss://${'u'.repeat(2048)}` }, 'url'],
    ['streamRequest.authToken null', { ...streamRequest, authToken: null }, 'authToken'],
    ['streamRequest.expiresAt as a string', { ...streamRequest, expiresAt: '1700000060000' }, 'expiresAt'],
    ['streamResponse.accepted as a string', { ...accepted, accepted: 'true' }, 'accepted'],
    ['streamResponse.accepted missing', { type: 'streamResponse', requestId: 'r' }, 'accepted'],
    ['streamResponse.reason null', { ...rejected, reason: null }, 'reason'],
    ['streamResponse.reason longer than 500', { ...rejected, reason: 'x'.repeat(501) }, 'reason'],
  ];
  it.each(wrong)('%s (the error names the field)', (_label, value, field) => {
    expectError(decodeControlMessage(JSON.stringify(value)), new RegExp(`^invalid control message: ${field}: `));
  });

  it('oversized: longer than the limit, even when otherwise valid', () => {
    const base = encodeControlMessage(hello);
    const padded = base.slice(0, -1) + ' '.repeat(MAX_CONTROL_MESSAGE_BYTES - base.length + 1) + '}';
    expect(padded).toHaveLength(MAX_CONTROL_MESSAGE_BYTES + 1);
    expectError(decodeControlMessage(padded), /too large/);
    expectError(decodeControlMessage('x'.repeat(10 * MAX_CONTROL_MESSAGE_BYTES)), /too large/);
  });

  it('not a string', () => {
    const values: unknown[] = [undefined, null, 42, {}, Buffer.from('{}'), ['{}']];
    for (const value of values) {
      expectError(decodeControlMessage(value as string), /must be text/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based
// ---------------------------------------------------------------------------------------------

const str = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const int = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
// 'binary' units are code points, possibly two UTF-16 units each: halve the limits (which count .length).
const messageArb: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), protocol: int, agent: str(100) }),
  fc.record({ type: fc.constant('welcome' as const), protocol: int, deviceId: str(128), heartbeatIntervalMs: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }),
  fc.record({ type: fc.constant('streamRequest' as const), requestId: str(50), streamName: str(32), url: str(300), authToken: str(300), expiresAt: finite }),
  fc.record(
    { type: fc.constant('streamResponse' as const), requestId: str(50), accepted: fc.boolean(), reason: str(250) },
    { requiredKeys: ['type', 'requestId', 'accepted'] },
  ),
);

const anyChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 8, arbitrary: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', '1', 'e', '-', ' ', 'null', 'true', '"type"', '"hello"') },
  { weight: 1, arbitrary: loneSurrogate },
);

const editArb = editArbitrary(anyChar);

const TYPES = ['hello', 'welcome', 'streamRequest', 'streamResponse'];

/** Never throws; the result is always one of the two documented shapes. */
function checkDecode(input: unknown): DecodeResult<ControlMessage> {
  const result = decodeControlMessage(input as string);
  if (result.ok) {
    expect(Object.keys(result)).toEqual(['ok', 'value']);
    expect(TYPES).toContain(result.value.type);
  } else {
    expect(Object.keys(result)).toEqual(['ok', 'error']);
    expect(typeof result.error).toBe('string');
    expect(result.error.length).toBeGreaterThan(0);
  }
  return result;
}

describe('properties', () => {
  it('every valid message round-trips', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        expect(decodeControlMessage(encodeControlMessage(message))).toEqual({ ok: true, value: message });
      }),
      { numRuns: 1000 },
    );
  });

  it('random strings never throw', () => {
    fc.assert(
      fc.property(fc.string({ unit: anyChar, maxLength: 200 }), (text) => {
        checkDecode(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary JSON values (and objects with a known type but random fields) never throw', () => {
    const withType = fc.tuple(fc.constantFrom(...TYPES, 'other', ''), fc.dictionary(fc.constantFrom('protocol', 'agent', 'deviceId', 'heartbeatIntervalMs', 'requestId', 'streamName', 'url', 'authToken', 'expiresAt', 'accepted', 'reason', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 })));
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), withType.map(([type, rest]) => ({ ...rest, type }))), (value) => {
        checkDecode(JSON.stringify(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid messages never throw, and a successful decode re-encodes to something that decodes the same', () => {
    fc.assert(
      fc.property(messageArb, fc.array(editArb, { minLength: 1, maxLength: 4 }), (message, edits) => {
        const result = checkDecode(applyEdits(encodeControlMessage(message), edits));
        if (result.ok) expect(decodeControlMessage(encodeControlMessage(result.value))).toEqual(result);
      }),
      { numRuns: 2000 },
    );
  });

  it('values that are not strings never throw', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        fc.pre(typeof value !== 'string');
        checkDecode(value);
      }),
      { numRuns: 500 },
    );
  });
});
