/**
 * TLS material for the hub. On first start a local CA and a server certificate signed by it are
 * written into `<data-dir>/tls/`; agents and clients trust `ca.pem` with `--ca`. Real certificates
 * come in through `--tls-cert/--tls-key`. ECDSA P-256 keys: fast to make, small handshakes.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Path of the CA file clients should trust, when the hub made its own. */
  caFile: string | undefined;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

async function makeCa(dir: string): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=DeviceStreams local CA',
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeSecret(join(dir, 'ca-key.pem'), await exportKey(keys.privateKey));
  writeFileSync(join(dir, 'ca.pem'), cert.toString('pem') + '\n', { mode: 0o600 });
}

async function makeServerCert(dir: string, names: string[]): Promise<void> {
  const caCert = new x509.X509Certificate(readFileSync(join(dir, 'ca.pem'), 'utf8'));
  const caKey = await importKey(readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const sans = names.map((n) => (isIP(n) !== 0 ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${names[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 825 * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  writeSecret(join(dir, 'server-key.pem'), await exportKey(keys.privateKey));
  writeFileSync(join(dir, 'server.pem'), cert.toString('pem') + '\n' + caCert.toString('pem') + '\n', { mode: 0o600 });
}

/** True when the stored server certificate covers every name and is not about to expire. */
function serverCertCovers(dir: string, names: string[]): boolean {
  const path = join(dir, 'server.pem');
  if (!existsSync(path) || !existsSync(join(dir, 'server-key.pem'))) return false;
  const cert = new X509Certificate(readFileSync(path));
  if (Date.parse(cert.validTo) - Date.now() < 30 * DAY) return false;
  // A wildcard (`*.apps.localhost`) is covered when a name under it is.
  return names.every((n) => (isIP(n) !== 0 ? cert.checkIP(n) !== undefined : cert.checkHost(n.replace(/^\*\./, 'probe.')) !== undefined));
}

/**
 * Loads (making when missing) the hub's own CA and a server certificate for `hostNames`
 * (localhost and the loopback addresses are always included; `*.name` is a wildcard SAN, as the
 * device apps' domain needs).
 */
export async function ensureLocalTls(dataDir: string, hostNames: string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, 'ca.pem')) || !existsSync(join(dir, 'ca-key.pem'))) await makeCa(dir);
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hostNames.filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::')])];
  if (!serverCertCovers(dir, names)) await makeServerCert(dir, names);
  return {
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server-key.pem'), 'utf8'),
    caFile: join(dir, 'ca.pem'),
  };
}

/** Loads operator-supplied certificate and key files. */
export function loadTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), caFile: undefined };
}
