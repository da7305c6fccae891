/**
 * What to do about a TLS failure towards the hub: a certificate this command does not trust, an
 * expired one, one for another name. Node gives such errors a code (SELF_SIGNED_CERT_IN_CHAIN, …),
 * but the SDKs wrap them into "cannot reach the hub at URL: TEXT" without it, so each failure is
 * recognised by its code when the error still carries one and by OpenSSL's text otherwise.
 */

/** Where a hub that made its own CA keeps it (README: "The command line"). */
const HUB_CA_FILE = 'DATA-DIR/tls/ca.pem';

/** Where the CA this command trusts came from (`FILE (--ca)`), for the trust hint. */
let caSource: string | undefined;

/** Remembers where the CA the command trusts came from; called where it is read. */
export function noteCaSource(source: string): void {
  caSource = source;
}

function untrusted(): string {
  return caSource === undefined
    ? `this command does not trust the CA that signed the hub's certificate: pass --ca FILE (or set DEVICESTREAMS_CA) with the hub's CA, which a hub with its own CA keeps in ${HUB_CA_FILE}`
    : `the CA in ${caSource} did not sign the hub's certificate: give the hub's CA, which a hub with its own CA keeps in ${HUB_CA_FILE}`;
}

/** Each failure: its code, OpenSSL's (or Node's) text for it, and the hint. */
const FAILURES: ReadonlyArray<{ code: string; text: RegExp; hint: () => string }> = [
  { code: 'SELF_SIGNED_CERT_IN_CHAIN', text: /self[- ]signed certificate in certificate chain/i, hint: untrusted },
  { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', text: /self[- ]signed certificate/i, hint: untrusted },
  { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', text: /unable to verify the first certificate/i, hint: untrusted },
  { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', text: /unable to get local issuer certificate/i, hint: untrusted },
  { code: 'UNABLE_TO_GET_ISSUER_CERT', text: /unable to get issuer certificate/i, hint: untrusted },
  {
    code: 'CERT_HAS_EXPIRED',
    text: /certificate has expired/i,
    hint: () => "the hub's certificate has expired: a hub with its own CA makes a new one when it starts (restart it); otherwise renew its --tls-cert, and check this machine's clock",
  },
  {
    code: 'CERT_NOT_YET_VALID',
    text: /certificate is not yet valid/i,
    hint: () => "the hub's certificate is not valid yet: check this machine's clock",
  },
  {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    text: /does not match certificate's altnames/i,
    hint: () => "the hub's certificate is for other names than the one this command used: reach the hub by a name its certificate carries (--hub-url, or the HostName of the connection string), or give the hub that name (its --public-url or --host) and restart it",
  },
];

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The hint for a TLS trust failure (an error, or the text of one), or undefined for anything else. */
export function trustHint(err: unknown): string | undefined {
  const code = codeOf(err);
  const byCode = code === undefined ? undefined : FAILURES.find((f) => f.code === code);
  if (byCode !== undefined) return byCode.hint();
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  return FAILURES.find((f) => f.text.test(text))?.hint();
}
