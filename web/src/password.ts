/** Random passwords an admin hands to a new (or locked-out) operator. */

/** Letters and digits without look-alikes (0/O, 1/l/I), so a password read aloud survives. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A password of `length` characters from the browser's CSPRNG, without modulo bias. */
export function generatePassword(length = 16): string {
  // The largest multiple of the alphabet size below 256: bytes at or above it are drawn again.
  const limit = 256 - (256 % ALPHABET.length);
  let out = '';
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && out.length < length) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}
