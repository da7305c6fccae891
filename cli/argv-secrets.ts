/**
 * Keys and passwords given on the command line (`--connection-string`, `--hub-connection-string`,
 * a store or bus URL with a password) are readable by every user of the machine in `ps` and
 * /proc/PID/cmdline for as long as the process runs. Once it has started, the process rewrites its
 * visible command line with them masked. What remains is the moment before that, and the shell's
 * history: an environment variable or a config file keeps them off the command line altogether.
 */

const MASK = '***';

const PATTERNS: readonly [RegExp, string][] = [
  // A connection string's key (device or policy).
  [/(SharedAccessKey=)[^;]*/gi, `$1${MASK}`],
  // A SAS token's signature.
  [/(\bsig=)[^&;\s]*/gi, `$1${MASK}`],
  // A URL's password: scheme://user:password@host.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, `$1${MASK}@`],
];

/** `arg` with any key, signature or URL password in it replaced by ***. */
export function maskSecrets(arg: string): string {
  let out = arg;
  for (const [re, to] of PATTERNS) out = out.replace(re, to);
  return out;
}

/**
 * When one of the command's arguments carries a secret, rewrites this process's command line as
 * `ps` shows it to `devicestreams ARGS` with the secrets masked; returns whether it did. (Node
 * writes the title over the original arguments' memory, which Linux shows in /proc/PID/cmdline,
 * and names the process by its first 15 bytes.)
 */
export function hideSecretArgs(args: readonly string[]): boolean {
  const masked = args.map(maskSecrets);
  if (masked.every((a, i) => a === args[i])) return false;
  process.title = ['devicestreams', ...masked].join(' ');
  return true;
}
