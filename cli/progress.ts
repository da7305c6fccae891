/** A transfer's progress as one line on stderr, redrawn in place, only when stderr is a terminal. */

const MiB = 1024 * 1024;
/** Redraw at most this often. */
const EVERY_MS = 200;

export interface Progress {
  /** `bytes` done so far. */
  update(bytes: number): void;
  /** Ends the line (with the final figures). */
  done(): void;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** A progress line for `label` of `total` bytes; does nothing when stderr is not a TTY. */
export function createProgress(label: string, total: number, stderr: NodeJS.WriteStream = process.stderr): Progress {
  if (stderr.isTTY !== true) return { update: () => undefined, done: () => undefined };
  const started = Date.now();
  let shown = 0;
  let last = 0;
  const draw = (bytes: number): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const percent = total === 0 ? 100 : Math.floor((bytes / total) * 100);
    stderr.write(`\r\x1b[K${label}  ${mib(bytes)} / ${mib(total)} MiB  ${percent}%  ${mib(bytes / seconds)} MiB/s`);
  };
  return {
    update(bytes) {
      last = bytes;
      const now = Date.now();
      if (now - shown < EVERY_MS) return;
      shown = now;
      draw(bytes);
    },
    done() {
      draw(last);
      stderr.write('\n');
    },
  };
}
