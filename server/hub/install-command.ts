/**
 * The one line an admin pastes on a device to install the kit and enroll it, and the fingerprint
 * that makes its very first download trustworthy.
 *
 * A hub on its own local CA (the default) has a certificate no device trusts yet. The line fetches
 * the CA from the hub without verification, checks that its SHA-256 is the fingerprint the admin
 * copied from the console or CLI (which came over a channel the admin already trusts), and only
 * then uses it, as `--cacert`, to download install.sh — so nothing fetched unverified is ever run
 * or trusted. install.sh checks the same fingerprint again before it downloads anything else.
 * A hub with a publicly trusted certificate (no local CA) needs none of that.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { DsError, ErrorCode } from '../../shared/errors.js';

/**
 * The fingerprint `--ca-sha256` takes: the SHA-256 of the CA certificate's DER encoding, lower-case
 * hex (what `openssl x509 -in ca.pem -outform DER | sha256sum` prints, and `sed '/-----/d' ca.pem |
 * base64 -d | sha256sum` for a file with one certificate). `caPem` must hold exactly one certificate.
 */
export function caFingerprint(caPem: string): string {
  const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) throw new DsError(ErrorCode.ArgumentInvalid, `the CA file must hold exactly one certificate (it holds ${blocks.length})`);
  return createHash('sha256').update(new X509Certificate(blocks[0]).raw).digest('hex');
}

/** Quotes a word for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface InstallCommandOptions {
  /** The hub's address as devices reach it, `https://HOST[:PORT]`. */
  publicUrl: string;
  /** The enrollment token. */
  token: string;
  /** The hub's local CA (PEM), when its certificate is not publicly trusted. */
  caPem?: string | undefined;
  /** Install somewhere else than /opt/devicestreams. */
  prefix?: string | undefined;
  /** false: no systemd units; the agent starts in the background (`--no-systemd`). */
  systemd?: boolean | undefined;
  /** The token names devices by pattern: the device enrolls under its host name (`--name-from-hostname`). */
  nameFromHostname?: boolean | undefined;
}

/**
 * The line to paste on the device (as root, or with `--no-systemd` as any user). It is one
 * `sh -c '…' install.sh ARGS` whose script takes its options as "$@", so options appended to the
 * pasted line (`--prefix DIR --no-systemd`) reach install.sh. It downloads into a private
 * temporary directory and runs the script from there — a failed download is an error, not an
 * empty script that `sh` runs with success — and removes that directory afterwards.
 */
export function installCommand(o: InstallCommandOptions): string {
  const url = new URL(o.publicUrl);
  if (url.protocol !== 'https:') throw new DsError(ErrorCode.ArgumentInvalid, 'the install command needs the hub\'s https:// address');
  // An origin holds no quote or space, so it can sit inside the single-quoted program below.
  const base = url.origin;
  const args = ['--token', shellQuote(o.token)];
  let fetchScript: string;
  if (o.caPem !== undefined) {
    const fp = caFingerprint(o.caPem);
    args.push('--ca-sha256', fp);
    fetchScript =
      `curl -fsSk ${base}/ca.pem -o "$d/ca.pem" && ` +
      `{ [ "$(sed "/-----/d" "$d/ca.pem" | base64 -d | sha256sum | cut -c1-64)" = ${fp} ] || ` +
      `{ echo "devicestreams: the CA certificate of the hub is not the one with SHA-256 ${fp}: not installing" >&2; false; }; } && ` +
      `curl -fsS --cacert "$d/ca.pem" ${base}/install.sh -o "$d/install.sh"`;
  } else {
    fetchScript = `curl -fsS ${base}/install.sh -o "$d/install.sh"`;
  }
  if (o.prefix !== undefined) args.push('--prefix', shellQuote(o.prefix));
  if (o.systemd === false) args.push('--no-systemd');
  if (o.nameFromHostname === true) args.push('--name-from-hostname');
  return `sh -c 'd=$(mktemp -d) && ${fetchScript} && sh "$d/install.sh" "$@"; r=$?; rm -rf "$d"; exit $r' install.sh ${args.join(' ')}`;
}
