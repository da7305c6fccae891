/** The agent's configuration file: its forms, its privacy check, and errors that name the problem. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from './agent-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ds-agent-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'c2VjcmV0LWtleS1vZi1hLWRldmljZQ==';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
let n = 0;

function write(content: unknown, mode = 0o600): string {
  const path = join(dir, `agent-${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

describe('loadAgentConfig', () => {
  it('reads a connection string, a CA file beside it and the mappings', () => {
    writeFileSync(join(dir, 'ca.pem'), PEM);
    const c = loadAgentConfig(write({ connectionString: `HostName=hub:8443;DeviceId=pump-17;SharedAccessKey=${KEY}`, ca: 'ca.pem', maps: ['ssh=127.0.0.1:22', 'shell=unix:/run/ds/shell.sock'] }));
    expect(c.connectionString).toBe(`HostName=hub:8443;DeviceId=pump-17;SharedAccessKey=${KEY}`);
    expect(c.ca).toBe(PEM);
    expect([...c.targets]).toEqual([['ssh', { host: '127.0.0.1', port: 22 }], ['shell', { path: '/run/ds/shell.sock' }]]);
    expect(c.hubUrl).toBeUndefined();
  });

  it('builds the connection string from hub, deviceId and key, and takes the CA inline', () => {
    const c = loadAgentConfig(write({ hub: 'https://hub.example.com:8443/', deviceId: 'pump-17', key: KEY, ca: PEM, hubUrl: 'wss://10.0.0.5:8443', proxy: 'http://proxy:3128' }));
    expect(c.connectionString).toBe(`HostName=hub.example.com:8443;DeviceId=pump-17;SharedAccessKey=${KEY}`);
    expect(c.ca).toBe(PEM);
    expect(c.hubUrl).toBe('wss://10.0.0.5:8443');
    expect(c.proxy).toBe('http://proxy:3128');
    expect(c.targets.size).toBe(0);
  });

  it('refuses a file others can read, or that is not what it should be, saying what is wrong', () => {
    const open = write({ connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}` }, 0o640);
    expect(() => loadAgentConfig(open)).toThrow(`mode 640 lets other accounts read the device's key; run: chmod 600 ${open}`);
    expect(() => loadAgentConfig(join(dir, 'missing.json'))).toThrow(/cannot read it \(ENOENT\)/);
    expect(() => loadAgentConfig(write('{ not json'))).toThrow(/is not valid JSON/);
    expect(() => loadAgentConfig(write({ connectionString: 'x', hub: 'h', deviceId: 'd', key: KEY }))).toThrow(/either "connectionString" or "hub", "deviceId" and "key"/);
    expect(() => loadAgentConfig(write({ hub: 'h', deviceId: 'd' }))).toThrow(/needs "connectionString", or all of "hub", "deviceId" and "key"/);
    expect(() => loadAgentConfig(write({ connectionString: `HostName=h;SharedAccessKeyName=owner;SharedAccessKey=${KEY}` }))).toThrow(/not a device's/);
    expect(() => loadAgentConfig(write({ connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, mapz: [] }))).toThrow(/Unrecognized key/);
    expect(() => loadAgentConfig(write({ connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, maps: ['ssh=127.0.0.1:22', 'ssh=127.0.0.1:2222'] }))).toThrow(/"ssh" is mapped twice/);
    expect(() => loadAgentConfig(write({ connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, maps: ['ssh'] }))).toThrow(/must look like NAME=HOST:PORT/);
    expect(() => loadAgentConfig(write({ connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, ca: 'nope.pem' }))).toThrow(/cannot read the CA file .*nope\.pem \(ENOENT\)/);
  });
});
