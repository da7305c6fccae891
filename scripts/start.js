#!/usr/bin/env node
// `npm start`: the whole product on this machine. Runs the hub (with the streaming endpoint) on
// https://localhost:8443 with its data in ./data, registers a demo device, and runs the demo
// device's agent as a real child process over TLS. Ctrl-C stops everything; a second start
// reuses ./data.
import { register } from 'tsx/esm/api';

register();
const { runStack } = await import('./stack.ts');
await runStack(process.argv.slice(2));
