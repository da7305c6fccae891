/**
 * Keys and passwords given on the command line (`--connection-string`, `--hub-connection-string`,
 * a store or bus URL with a password, a proxy URL with one) are readable by every user of the
 * machine in `ps` and /proc/PID/cmdline for as long as the process runs. As it starts, a command
 * rewrites its visible command line to `PROGRAM ARGS` with them masked. What remains is the moment
 * before that (Node starting and loading the command) and the shell's history: an environment
 * variable or a config file keeps them off the command line altogether.
 */

const MASK = '***';

const PATTERNS: readonly [RegExp, string][] = [
  // A connection string's key (device or policy); the parser trims names, so `Key =` counts too.
  [/(SharedAccessKey\s*=)[^;]*/gi, `$1${MASK}`],
  // A SAS token's signature.
  [/(\bsig\s*=)[^&;\s]*/gi, `$1${MASK}`],
  // A URL's password: scheme://user:password@host, up to the authority's last '@' (a password may
  // hold a raw '@' or a space; libpq-style parsers accept both).
  [/((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s/:@?#]*:)[^/?#]*@/gi, `$1${MASK}@`],
  // A password as a URL's query parameter (postgres://host/db?password=…).
  [/([?&](?:ssl)?password=)[^&#]*/gi, `$1${MASK}`],
];

/** `arg` with any key, signature or URL password in it replaced by ***. */
export function maskSecrets(arg: string): string {
  let out = arg;
  for (const [re, to] of PATTERNS) out = out.replace(re, to);
  return out;
}

/**
 * Sets this process's command line as `ps` shows it to `program` and `args`, any secret in them
 * masked. Node writes it over the original arguments' memory (what Linux shows in
 * /proc/PID/cmdline, as one string) and names the process by its first 15 bytes (`ps -o comm`,
 * `top`): every command of ours shows the same way whether or not it was given a secret.
 * `process.argv` keeps the real values.
 */
export function setVisibleCommandLine(program: string, args: readonly string[]): void {
  process.title = [program, ...args.map(maskSecrets)].join(' ');
}
