/**
 * Last resort after the setup's own teardown (the harness's stopAll): any process of the stack
 * that is somehow still alive is killed by its pid. Nothing else is touched.
 */
import { maybeStackEnv } from './fixtures/stack-env.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown(): Promise<void> {
  const pids = (maybeStackEnv()?.pids ?? []).filter((pid) => pid > 0 && alive(pid));
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
}
