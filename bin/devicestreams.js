#!/usr/bin/env node
// Entry point of the `devicestreams` command. The sources are TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

// Started by `npm start` (scripts/stack.ts) as part of its demo device: stop when it is gone, even
// when it was killed outright (its children are handed to init then, and would run on for ever).
const parent = Number(process.env.DEVICESTREAMS_EXIT_WITH_PARENT);
if (Number.isInteger(parent) && parent > 0) {
  delete process.env.DEVICESTREAMS_EXIT_WITH_PARENT;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  watch.unref();
}

register();
const { main } = await import('../cli/main.ts');
await main(process.argv.slice(2));
