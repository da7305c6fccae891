/** The install line and the CA fingerprint it pins, checked against the tools a device has. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalTls } from '../tls.js';
import { caFingerprint, installCommand, shellQuote } from './install-command.js';

let dir: string;
let caPem: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ds-install-cmd-'));
  caPem = readFileSync((await ensureLocalTls(dir, [])).caFile as string, 'utf8');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('caFingerprint', () => {
  it('is the SHA-256 of the certificate DER in lower-case hex, as openssl and the install line compute it', () => {
    const fp = caFingerprint(caPem);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    const file = join(dir, 'tls', 'ca.pem');
    expect(execFileSync('sh', ['-c', `openssl x509 -in ${file} -outform DER | sha256sum | cut -c1-64`], { encoding: 'utf8' }).trim()).toBe(fp);
    expect(execFileSync('sh', ['-c', `sed '/-----/d' ${file} | base64 -d | sha256sum | cut -c1-64`], { encoding: 'utf8' }).trim()).toBe(fp);
  });

  it('refuses a file with no certificate or with several', () => {
    expect(() => caFingerprint('nothing here')).toThrow(/exactly one certificate \(it holds 0\)/);
    expect(() => caFingerprint(caPem + caPem)).toThrow(/exactly one certificate \(it holds 2\)/);
  });
});

describe('installCommand', () => {
  it('pins the CA before trusting anything, runs the script from a file, and passes the options', () => {
    const line = installCommand({ publicUrl: 'https://hub.example.com:8443/', token: 'ds1.abc.def', caPem, prefix: '/srv/ds', systemd: false, nameFromHostname: true });
    const fp = caFingerprint(caPem);
    expect(line).toBe(
      `sh -c 'd=$(mktemp -d) && curl -fsSk https://hub.example.com:8443/ca.pem -o "$d/ca.pem" && ` +
        `{ [ "$(sed "/-----/d" "$d/ca.pem" | base64 -d | sha256sum | cut -c1-64)" = ${fp} ] || ` +
        `{ echo "devicestreams: the CA certificate of the hub is not the one with SHA-256 ${fp}: not installing" >&2; false; }; } && ` +
        `curl -fsS --cacert "$d/ca.pem" https://hub.example.com:8443/install.sh -o "$d/install.sh" && ` +
        `sh "$d/install.sh" "$@"; r=$?; rm -rf "$d"; exit $r' install.sh --token ds1.abc.def --ca-sha256 ${fp} --prefix /srv/ds --no-systemd --name-from-hostname`,
    );
    expect(spawnSync('sh', ['-n', '-c', line]).status).toBe(0);
  });

  it('for a publicly trusted hub, just downloads over the system trust', () => {
    expect(installCommand({ publicUrl: 'https://hub.example.com', token: 'tok' })).toBe(
      `sh -c 'd=$(mktemp -d) && curl -fsS https://hub.example.com/install.sh -o "$d/install.sh" && sh "$d/install.sh" "$@"; r=$?; rm -rf "$d"; exit $r' install.sh --token tok`,
    );
  });

  it('quotes what a shell would read otherwise, and refuses a plain http:// hub', () => {
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
    const script = join(dir, 'echo-args.sh');
    writeFileSync(script, 'printf "%s\\n" "$@"');
    expect(execFileSync('sh', ['-c', `sh ${script} ${shellQuote("it's $HOME; rm -rf /")}`], { encoding: 'utf8' })).toBe("it's $HOME; rm -rf /\n");
    expect(() => installCommand({ publicUrl: 'http://hub.example.com', token: 'tok' })).toThrow(/https:\/\//);
  });
});
