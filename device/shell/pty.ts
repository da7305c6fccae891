/**
 * The PTY side of a shell session: spawning in byte mode, the input buffer we can observe, and
 * killing the terminal's process groups.
 */
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { spawn, type IDisposable } from '@lydell/node-pty';

/**
 * A node-pty terminal spawned with `encoding: null`. The published typings describe only the
 * string mode; in byte mode output arrives as Buffers (so a UTF-8 sequence split across two reads
 * is never mangled) and `write` accepts bytes, which keeps pasted non-UTF-8 input intact.
 */
export interface BytePty {
  readonly pid: number;
  onData(listener: (data: Buffer) => void): IDisposable;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): IDisposable;
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
}

export interface SpawnOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  term: string;
  cols: number;
  rows: number;
}

/** Starts `file` on a new PTY (its own session, so its pid is also its process group id). */
export function spawnPty(o: SpawnOptions): BytePty {
  // The server's own terminal size must not leak into a PTY of another size.
  const { COLUMNS: _columns, LINES: _lines, ...env } = o.env;
  const pty = spawn(o.file, [...o.args], {
    name: o.term,
    cols: o.cols,
    rows: o.rows,
    cwd: o.cwd,
    env: { ...env, TERM: o.term },
    encoding: null,
  });
  holdSlaveUntilExit(pty);
  return pty as unknown as BytePty;
}

/**
 * Keeps the PTY's slave side open in this process until node-pty reports the exit. On Linux, when
 * the last process holding the slave exits, output it wrote just before and we have not read yet
 * can be lost (node-pty #72/#85/#726): a shell that printed a burst and exited delivered all but
 * the last few KiB in about half the runs. With our descriptor open the slave is never hung up by
 * the exit, so everything written stays readable; node-pty then ends the session through its own
 * exit timer (200 ms) instead of the read error. O_NOCTTY: the terminal must not become ours.
 */
function holdSlaveUntilExit(pty: ReturnType<typeof spawn>): void {
  const name = (pty as unknown as { ptsName?: unknown }).ptsName;
  if (typeof name !== 'string' || !name.startsWith('/dev/')) return;
  let fd: number;
  try {
    fd = openSync(name, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    return; // Not fatal: the session works, only the race above stays open.
  }
  pty.onExit(() => closeSync(fd));
}

/**
 * The socket node-pty writes keystrokes into. node-pty's `write` neither reports backpressure nor
 * takes a callback, so a shell that does not read its input would let keystrokes pile up in this
 * socket's buffer. Reaching it lets the session stop reading the client while it is full.
 * Undefined if a future node-pty stores it differently (then input is not flow-controlled).
 */
export function ptyInputSocket(pty: BytePty): Socket | undefined {
  const inner = (pty as unknown as { _socket?: unknown })._socket;
  return inner instanceof Socket ? inner : undefined;
}

/**
 * The process groups to signal when a terminal is abandoned: the shell's own (it is a session
 * leader) and the terminal's foreground group, where an interactive shell runs the current job
 * (`yes | head` gets a group of its own under job control). Linux: read from /proc; elsewhere only
 * the shell's group.
 */
export function terminalProcessGroups(shellPid: number): number[] {
  const groups = [shellPid];
  // The shell already gone, or no /proc: its own group is all we know.
  const foreground = Number(procStat(shellPid)?.[5]);
  if (Number.isInteger(foreground) && foreground > 1 && foreground !== shellPid) groups.push(foreground);
  return groups;
}

/** Sends `signal` to each process group, ignoring groups that no longer exist. */
export function signalGroups(groups: readonly number[], signal: NodeJS.Signals): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: the group has already exited.
    }
  }
}

/**
 * Whether `pid` is still running: false once it has exited (gone, or a zombie not yet reaped).
 * Linux reads /proc; elsewhere a signal 0 probe (which counts a zombie as running).
 */
export function processRunning(pid: number): boolean {
  const fields = procStat(pid);
  if (fields !== undefined) return fields[0] !== 'Z';
  if (existsSync('/proc/self')) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The fields of /proc/PID/stat after "(comm)" (state ppid pgrp session tty_nr tpgid …), or
 * undefined when the process is gone or there is no /proc.
 */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
