/**
 * When the reader of our output goes away (`devicestreams streams list | head`, a log pipe that
 * ends): Node ignores SIGPIPE, so the next write fails with EPIPE, and unhandled that crashes the
 * command with a stack trace — a server too. Instead a command stops as Unix tools do on SIGPIPE
 * (status 141, nothing printed), unless it has something to close first (`stream`: its stream) or
 * goes on serving (`hub`, `agent`, `proxy`: stdout was only for its READY line). Lines for a gone
 * stderr are dropped: there is nowhere left to say anything.
 */

/** The status a process killed by SIGPIPE has in a shell (128 + 13). */
export const SIGPIPE_STATUS = 141;

let onStdoutClosed: () => void = () => process.exit(SIGPIPE_STATUS);
/** A server goes on whatever happens to its stdout. */
let ignoreStdoutErrors = false;

/** What the running command does once its stdout's reader is gone, instead of stopping at once. */
export function whenStdoutClosed(f: () => void): void {
  onStdoutClosed = f;
}

/** A server's stdout may go away (or fail) once it has said it is ready: it goes on. */
export function keepServingWithoutStdout(): void {
  ignoreStdoutErrors = true;
}

/** Installs the handlers; called once, before a command runs. */
export function watchOutputs(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (ignoreStdoutErrors) return;
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      onStdoutClosed();
      return;
    }
    process.stderr.write(`devicestreams: cannot write to stdout: ${err.message}\n`);
    process.exit(1);
  });
  process.stderr.on('error', () => undefined);
}
